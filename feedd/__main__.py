"""The `feedd` command and `python -m feedd`.

The CLI is imported inside main(): a worker process (workers.Digesters) is
spawned, and a spawned process runs the `feedd` script's imports again; from
here they stay this small module instead of the whole CLI (httpx, click,
apscheduler: ~12 MB in each worker).
"""


def main() -> None:
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
