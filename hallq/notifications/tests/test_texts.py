"""What each kind of notification says: fields within WeChat's limits, SMS parameters."""

from __future__ import annotations

from hallq.notifications import texts

CALL = {"number": "A012", "service": "不动产登记", "counter": "3号窗口"}


def test_a_field_is_one_line_of_at_most_the_limit():
    assert texts.fit("第一行\r\n第二行", 20) == "第一行 第二行"
    assert texts.fit("一二三四五六七八九十一二三四五六七八九十一", 20) == (
        "一二三四五六七八九十一二三四五六七八九…"
    )
    assert texts.fit("  A012  ", 20) == "A012"


def test_without_a_layout_the_template_fields_are_the_kinds_facts():
    assert texts.template_fields("call", {**CALL, "url": "https://x.test/t/1"}) == CALL


def test_a_layout_maps_the_templates_keys_to_formats_of_the_facts():
    layout = {"character_string1": "{number}", "thing2": "{service} {counter}"}
    assert texts.template_fields("call", CALL, layout) == {
        "character_string1": "A012",
        "thing2": "不动产登记 3号窗口",
    }


def test_subscription_fields_are_cut_by_the_kind_of_field():
    long = "一二三四五六七八九十" * 4
    fields = texts.subscribe_fields(
        "call",
        {"number": "A" * 40, "service": long, "counter": long},
        {"character_string1": "{number}", "thing2": "{service}", "phrase3": "{counter}"},
    )
    assert fields == {
        "character_string1": "A" * 31 + "…",
        "thing2": long[:19] + "…",
        "phrase3": "一二三四…",
    }


def test_sms_parameters_are_the_kinds_facts_without_the_link():
    assert texts.sms_params(
        "pre_call", {"number": "B003", "service": "社保", "ahead": "3", "url": "u"}
    ) == {
        "number": "B003",
        "service": "社保",
        "ahead": "3",
    }


def test_missing_facts_are_named():
    assert texts.missing_keys("call", {"number": "A012"}) == ["service", "counter"]
    assert texts.missing_keys("blacklisted", {"until": "2026-06-01"}) == []


def test_every_kind_has_its_facts_and_an_sms_text_using_exactly_them():
    import string

    for kind, keys in texts.DATA_KEYS.items():
        used = {
            name for _, name, _, _ in string.Formatter().parse(texts.SMS_TEMPLATES[kind]) if name
        }
        assert used == set(keys), kind
