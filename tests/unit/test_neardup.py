"""neardup: tokens and shingles by script, MinHash signatures, band keys, similarity,
serialization, and the threshold on small hand-written stories (issue 4)."""

# S311: seeded random.Random only builds test texts; nothing is cryptographic.
# RUF001: the Chinese and Japanese texts use their own full-width punctuation.
# ruff: noqa: S311, RUF001

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from feedd import neardup
from feedd.neardup import (
    BANDS,
    NEAR_DUPLICATE,
    NUM_PERM,
    SCHEME,
    SIGNATURE_BYTES,
    Signature,
    band_keys,
    candidate_probability,
    is_near_duplicate,
    shingles,
    signature,
    similarity,
    tokens,
)

ROOT = Path(__file__).resolve().parents[2]

STORY = """\
The city council voted on Tuesday evening to approve a network of protected bike
lanes across the northern districts, ending a debate that had lasted almost two
years. The plan adds forty kilometres of lanes separated from traffic by low
concrete kerbs, links the three largest schools to the river path, and removes
about six hundred parking spaces along the main shopping streets. Supporters
packed the public gallery and applauded when the result was read out, while a
group of shop owners said they would ask the regional court to review the
decision. The deputy mayor, who led the project, said the first section near the
railway station would open in the spring and the rest within four years. She
added that the council had listened to traders and would create two new car parks
at the edge of the centre, with a free shuttle bus during the works. The cost is
estimated at thirty-eight million euros, of which half comes from a national
fund for cleaner transport. Cycling groups called the vote a turning point but
warned that the lanes must be kept clear of delivery vans, which they say block
the existing routes every morning. A survey published last month found that one
in five residents would cycle to work if the roads felt safer, and that most
parents do not let their children ride to school alone. The council will hold
neighbourhood meetings in each district before construction starts, and the
detailed maps will be published online next week for comments from the public.
"""

SAME_TOPIC = """\
Cyclists in the northern districts reported more collisions with parked cars last
year than in any year since records began, according to figures released on
Monday by the regional road safety office. Most of the incidents happened when a
driver opened a door into the path of a passing bike, and nearly a third took
place on the main shopping streets during the morning delivery hours. The office
recommends wider lanes, better lighting at junctions and lower speed limits near
schools, but says that painting lines on the road is not enough on its own. A
spokesman for the largest cycling club said the numbers matched what its members
see every day, and asked the city to act before the summer. Local shop owners
said that the problem is caused by a lack of loading bays, not by traders, and
proposed fixed delivery windows early in the morning. The report also notes that
the number of people cycling to work grew by twelve per cent, which partly
explains the rise. Police will run checks on illegal parking in bike lanes during
the next two months and will fine drivers who block them. The full report, with
maps of the worst streets, is available on the safety office website, and a
public meeting on the findings will take place at the town hall next Thursday.
"""

# Chinese: a subway line opens (STORY_ZH), and another subway story (SAME_TOPIC_ZH).
STORY_ZH = (
    "本市地铁五号线今天上午正式开通运营，全长二十八公里，共设二十二座车站，"
    "连接城市北部的新区与南部的老城区。市交通局负责人在开通仪式上表示，"
    "新线路每天可运送乘客约四十万人次，将有效缓解主城区早晚高峰的交通压力。"
    "首班车于早上六点从北站发出，末班车晚上十一点结束运营。票价按里程计算，"
    "起步价为两元。许多市民一早便来到车站体验，一位退休教师说，"
    "以前去老城区看望女儿需要换乘两次公交车，现在坐地铁只要四十分钟。"
    "交通局还表示，明年将开始建设六号线，预计三年后建成通车。"
)
SAME_TOPIC_ZH = (
    "受强降雨影响，本市地铁三号线部分区段昨天晚上暂停运营近三个小时。"
    "地铁公司表示，暴雨导致两座车站出入口积水，为保障乘客安全，"
    "临时关闭了相关车站并组织公交车接驳。维修人员连夜排水并检查了供电设备，"
    "今天早上首班车已恢复正常。有乘客反映，停运期间车站广播信息不够及时，"
    "地铁公司回应称将改进应急通知流程，并在各站增加工作人员引导乘客出行。"
    "气象部门预计未来三天仍有大到暴雨，提醒市民出行前查看地铁运营信息。"
)
STORY_JA = (
    "東京都は今年の夏に向けて、熱中症対策として公園や駅前に給水所を百か所以上設置すると"
    "発表しました。給水所では無料で冷たい水を受け取ることができ、高齢者や子ども連れの利用を"
    "想定しています。都の担当者は、昨年は七月だけで救急搬送が三千件を超えたと説明し、"
    "早めの水分補給を呼びかけています。設置は六月中旬から九月末までの予定で、場所は都の"
    "ホームページで確認できます。"
)
STORY_TH = (
    "กรุงเทพมหานครประกาศเปิดสวนสาธารณะแห่งใหม่ริมแม่น้ำเจ้าพระยาในวันเสาร์นี้ "
    "สวนแห่งนี้มีพื้นที่กว่าห้าสิบไร่ มีทางเดินริมน้ำ ลานกีฬา และพื้นที่สำหรับเด็ก "
    "ผู้ว่าราชการกรุงเทพมหานครกล่าวว่า สวนจะเปิดให้บริการทุกวันตั้งแต่เวลาห้านาฬิกา"
    "ถึงยี่สิบเอ็ดนาฬิกา และประชาชนสามารถเดินทางมาได้สะดวกด้วยรถไฟฟ้าและเรือโดยสาร"
)


def sign(text: str) -> Signature:
    sig = signature(text)
    assert sig is not None, "text too short for a signature"
    return sig


def exact_jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


def replace_words(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new, 1)
    return text


# --- tokens and shingles ------------------------------------------------------


def test_words_are_lowercased_and_stripped_of_punctuation() -> None:
    found, by_characters = tokens("Hello, WORLD! It's 2024 - e-mail_me " * 10)
    assert not by_characters
    assert found[:8] == ["hello", "world", "it", "s", "2024", "e", "mail", "me"]


def test_case_punctuation_width_and_spacing_do_not_matter() -> None:
    messy = STORY.upper().replace(" ", "  ").replace("\n", " \r\n ").replace(",", " ;")
    # Full-width Latin letters (as some CJK sites send them) are folded by NFKC.
    messy = messy.replace("CITY", "\uff23\uff29\uff34\uff39")
    assert shingles(messy) == shingles(STORY)
    assert similarity(sign(messy), sign(STORY)) == 1.0


def test_word_shingles_for_spaced_scripts() -> None:
    found = shingles(STORY)
    assert "city council voted" in found
    assert all(len(shingle.split()) == neardup.WORD_SHINGLE for shingle in found)


@pytest.mark.parametrize("text", [STORY_ZH, STORY_JA, STORY_TH])
def test_character_shingles_for_scripts_without_spaces(text: str) -> None:
    found, by_characters = tokens(text)
    assert by_characters
    assert all(len(token) == 1 for token in found)
    assert all(len(shingle) == neardup.CHAR_SHINGLE for shingle in shingles(text))


def test_script_is_decided_by_the_majority_of_tokens() -> None:
    # An English story naming a Chinese city stays word-shingled...
    assert not tokens(STORY + " 北京市 上海市")[1]
    # ...and a Japanese story with a few English words stays character-shingled,
    # the Latin words being one token each.
    found, by_characters = tokens(STORY_JA + " Tokyo Metropolitan Government")
    assert by_characters
    assert found[-3:] == ["tokyo", "metropolitan", "government"]


# --- too short to judge -----------------------------------------------------------


def test_short_text_has_no_signature() -> None:
    words = STORY.split()
    assert signature(" ".join(words[: neardup.MIN_WORDS - 1])) is None
    assert signature(" ".join(words[: neardup.MIN_WORDS])) is not None


@pytest.mark.parametrize("text", ["", "   ", "!!! ... ---", "\u200b\u200b"])
def test_empty_text_has_no_signature(text: str) -> None:
    assert signature(text) is None
    assert shingles(text) == frozenset()


def test_thin_item_matches_nothing() -> None:
    # A title and one line, as an applet or social feed sends the story.
    thin = "City approves protected bike lanes\nThe council voted on Tuesday evening."
    assert signature(thin) is None
    assert not is_near_duplicate(signature(thin), sign(STORY))
    assert not is_near_duplicate(signature(thin), signature(thin))


def test_short_cjk_text_has_no_signature() -> None:
    characters = [c for c in STORY_ZH if "\u4e00" <= c <= "\u9fff"]
    assert signature("".join(characters[: neardup.MIN_CJK_CHARS - 1])) is None
    assert signature("".join(characters[: neardup.MIN_CJK_CHARS])) is not None


def test_thai_needs_more_characters_than_cjk() -> None:
    # Without SARA AM, which NFKC splits into two characters (two tokens).
    thai = "".join(c for c in STORY_TH if not c.isspace() and c != "\u0e33")
    assert len(thai) > neardup.MIN_SEA_CHARS
    assert signature(thai[: neardup.MIN_SEA_CHARS - 1]) is None
    assert signature(thai[: neardup.MIN_SEA_CHARS]) is not None


# --- determinism ------------------------------------------------------------------


def test_same_text_same_signature() -> None:
    assert signature(STORY) == signature(STORY)
    assert band_keys(sign(STORY)) == band_keys(sign(STORY))


SUBPROCESS = """
import sys
from feedd.neardup import band_keys, signature
sig = signature(sys.stdin.read())
print(sig.to_bytes().hex())
print(" ".join(band_keys(sig)))
"""


@pytest.mark.parametrize("seed", ["0", "1", "4242"])
def test_same_signature_in_another_process(seed: str) -> None:
    """No dependence on hash() (PYTHONHASHSEED) or anything else per process."""
    environment = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", SUBPROCESS],
        input=STORY + STORY_ZH,
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    blob, keys = result.stdout.splitlines()
    sig = sign(STORY + STORY_ZH)
    assert bytes.fromhex(blob) == sig.to_bytes()
    assert tuple(keys.split()) == band_keys(sig)


def test_signatures_do_not_change_silently() -> None:
    """Stored signatures and band keys stay comparable: a change here needs a new SCHEME."""
    sig = sign(STORY)
    assert SCHEME == 1
    assert sig.rows[:4] == (2108252009, 4206973483, 3171375796, 1437810203)
    assert band_keys(sig)[:2] == ("592a5583edd88094", "b3c4d8fda9f75570")
    digest = hashlib.sha256(sig.to_bytes()).hexdigest()
    assert digest == "2091c8ce8760301b945a77e03e3b7f31cce504010a884103b30c89b023c762b5"
    # Character shingles (Han, Thai) too: their bytes are joined from encoded tokens.
    for text, expected in ((STORY_ZH, "7482c93da683bf34"), (STORY_TH, "6dd05663dd21cd5b")):
        assert hashlib.sha256(sign(text).to_bytes()).hexdigest()[:16] == expected


def reference_minhash(text: str) -> tuple[int, ...]:
    """The straightforward per-bin minimum and densification, for comparison."""
    found = shingles(text)
    person = f"feedd.neardup.{SCHEME}".encode()
    bins: list[int | None] = [None] * NUM_PERM
    for shingle in found:
        digest = hashlib.blake2b(shingle.encode(), digest_size=8, person=person).digest()
        value = int.from_bytes(digest, "little")
        index, value = value >> 57, value & ((1 << 57) - 1)
        current = bins[index]
        if current is None or value < current:
            bins[index] = value
    rows = []
    for index, minimum in enumerate(bins):
        if minimum is None:
            order = neardup._probe_order(index)
            minimum = next(bins[j] for j in order if bins[j] is not None)
        assert minimum is not None
        rows.append(minimum & 0xFFFFFFFF)
    return tuple(rows)


@pytest.mark.parametrize(
    "text", [STORY, SAME_TOPIC, " ".join(STORY.split()[:30]), STORY_ZH, STORY_TH]
)
def test_signature_is_the_per_bin_minimum(text: str) -> None:
    # Short texts leave most of the 128 bins empty: this covers densification.
    assert sign(text).rows == reference_minhash(text)


def test_probe_orders_cover_every_other_bin() -> None:
    for index in (0, 1, 77, NUM_PERM - 1):
        order = neardup._probe_order(index)
        assert sorted(order) == [j for j in range(NUM_PERM) if j != index]
    assert neardup._probe_order(0) != neardup._probe_order(1)


# --- similarity and the threshold ------------------------------------------------


def test_exact_copy_has_similarity_one() -> None:
    assert similarity(sign(STORY), sign(str(STORY))) == 1.0
    assert is_near_duplicate(sign(STORY), sign(STORY))


def test_a_few_words_changed_is_a_near_duplicate() -> None:
    edited = replace_words(
        STORY,
        {"Tuesday": "Wednesday", "forty": "fifty", "thirty-eight": "thirty-nine"},
    )
    assert 0.8 < exact_jaccard(STORY, edited) < 1.0
    assert is_near_duplicate(sign(edited), sign(STORY))


def test_boilerplate_before_and_after_is_a_near_duplicate() -> None:
    republished = (
        "Weather: Berlin 14°C, partly cloudy. Wind 12 km/h.\n"
        "Tuesday, 14 May 2024\n"
        f"{STORY}\n"
        "Read more: https://ift.tt/3xYzAbc\n"
        "from The Daily Post \u2013 Daily news\n"
    )
    assert is_near_duplicate(sign(republished), sign(STORY))


def test_unrelated_story_on_the_same_topic_is_not() -> None:
    value = similarity(sign(SAME_TOPIC), sign(STORY))
    assert value < 0.1
    assert not is_near_duplicate(sign(SAME_TOPIC), sign(STORY))


def test_half_of_the_story_is_not_a_near_duplicate() -> None:
    """Missed by design: Jaccard of a 50% prefix is about 0.5."""
    words = STORY.split()
    half = " ".join(words[: len(words) // 2])
    assert not is_near_duplicate(sign(half), sign(STORY))


def test_cjk_with_a_few_characters_changed_is_a_near_duplicate() -> None:
    edited = replace_words(STORY_ZH, {"二十八": "二十九", "六点": "七点", "两元": "三元"})
    assert is_near_duplicate(sign(edited), sign(STORY_ZH))
    # Punctuation and spacing do not matter either.
    respaced = STORY_ZH.replace("，", ", ").replace("。", ". ")
    assert similarity(sign(respaced), sign(STORY_ZH)) == 1.0


def test_unrelated_cjk_story_on_the_same_topic_is_not() -> None:
    assert similarity(sign(SAME_TOPIC_ZH), sign(STORY_ZH)) < 0.1
    assert not is_near_duplicate(sign(SAME_TOPIC_ZH), sign(STORY_ZH))
    assert not is_near_duplicate(sign(STORY_JA), sign(STORY_ZH))


def test_thai_with_a_few_characters_changed_is_a_near_duplicate() -> None:
    edited = replace_words(STORY_TH, {"ห้าสิบ": "หกสิบ"})
    assert is_near_duplicate(sign(edited), sign(STORY_TH))
    assert not is_near_duplicate(sign(STORY_TH), sign(STORY_ZH))


def test_no_signature_is_never_a_near_duplicate() -> None:
    assert not is_near_duplicate(None, sign(STORY))
    assert not is_near_duplicate(sign(STORY), None)
    assert not is_near_duplicate(None, None)


def test_estimate_follows_the_exact_jaccard() -> None:
    """128 rows: the estimate's standard deviation is at most ~0.044."""
    rng = random.Random(7)
    vocabulary = [f"w{n}" for n in range(2000)]
    for length in (30, 60, 200, 1000):
        base = [rng.choice(vocabulary) for _ in range(length)]
        for share in (0.0, 0.02, 0.05, 0.1, 0.3):
            edited = list(base)
            for position in rng.sample(range(length), int(length * share)):
                edited[position] = rng.choice(vocabulary)
            a, b = " ".join(base), " ".join(edited)
            assert abs(similarity(sign(a), sign(b)) - exact_jaccard(a, b)) < 0.15


# --- band keys -------------------------------------------------------------------


def test_band_keys() -> None:
    keys = band_keys(sign(STORY))
    assert len(keys) == BANDS
    assert len(set(keys)) == BANDS
    assert all(len(key) == 16 and int(key, 16) >= 0 for key in keys)


def test_near_duplicates_share_a_band_key_and_other_stories_none() -> None:
    edited = replace_words(STORY, {"Tuesday": "Wednesday", "forty": "fifty"})
    assert set(band_keys(sign(edited))) & set(band_keys(sign(STORY)))
    assert not set(band_keys(sign(SAME_TOPIC))) & set(band_keys(sign(STORY)))


def test_equal_rows_in_different_bands_give_different_keys() -> None:
    constant = Signature((7,) * NUM_PERM, 1)
    assert len(set(band_keys(constant))) == BANDS


def test_candidate_probability_matches_the_documented_table() -> None:
    assert candidate_probability(0.5) == pytest.approx(0.061, abs=0.001)
    assert candidate_probability(0.7) == pytest.approx(0.613, abs=0.001)
    assert candidate_probability(0.8) == pytest.approx(0.947, abs=0.001)
    assert candidate_probability(0.9) > 0.999
    assert candidate_probability(NEAR_DUPLICATE) > 0.9


# --- storage -----------------------------------------------------------------------


def test_to_bytes_round_trip() -> None:
    for text in (STORY, STORY_ZH, STORY_TH):
        sig = sign(text)
        blob = sig.to_bytes()
        assert len(blob) == SIGNATURE_BYTES
        assert Signature.from_bytes(blob) == sig
        assert band_keys(Signature.from_bytes(blob)) == band_keys(sig)


def test_from_bytes_refuses_another_size_or_scheme() -> None:
    blob = sign(STORY).to_bytes()
    with pytest.raises(ValueError, match="bytes"):
        Signature.from_bytes(blob[:-1])
    with pytest.raises(ValueError, match="scheme"):
        Signature.from_bytes(bytes([SCHEME + 1]) + blob[1:])


def test_shingle_count_is_kept() -> None:
    sig = sign(STORY)
    assert sig.shingles == len(shingles(STORY))
    assert Signature.from_bytes(sig.to_bytes()).shingles == sig.shingles


def test_shingle_longer_than_the_text_is_the_whole_text() -> None:
    # Only the bench passes other sizes; a size beyond the text gives one shingle.
    words = " ".join(STORY.split()[:40])
    assert shingles(words, word_size=100) == frozenset({" ".join(tokens(words)[0])})
