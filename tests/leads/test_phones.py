import pytest

from leads.phones import normalise_phone, phone_search_variants


@pytest.mark.parametrize(
    "typed",
    [
        "050 123 4567",
        "0501234567",
        "00971 50 123 4567",
        "00971501234567",
        "+971-50-1234567",
        "971501234567",
        "+971 50 123 4567",
        "(050) 123-4567",
    ],
)
def test_normalise_phone_gives_e164_for_uae_mobile_formats(typed):
    assert normalise_phone(typed).value == "+971501234567"
    assert normalise_phone(typed).is_valid


def test_normalise_phone_handles_landlines_and_foreign_numbers():
    assert normalise_phone("04 345 6789").value == "+97143456789"
    assert normalise_phone("+44 20 7946 0958").value == "+442079460958"


@pytest.mark.parametrize("typed", ["12345", "call me maybe", "+971 50", "050 123 45678 999"])
def test_normalise_phone_keeps_bad_input_as_typed_and_flags_it(typed):
    result = normalise_phone(f"  {typed} ")
    assert result.value == typed
    assert result.is_valid is False


def test_normalise_phone_empty_is_valid_and_empty():
    assert normalise_phone("").value == ""
    assert normalise_phone(None).is_valid


def test_normalise_phone_uses_configured_default_region(settings):
    settings.PHONE_DEFAULT_REGION = "GB"
    assert normalise_phone("020 7946 0958").value == "+442079460958"


def test_phone_search_variants_adds_e164_for_a_local_format():
    assert phone_search_variants("050 123 4567") == ["050 123 4567", "+971501234567"]
    assert phone_search_variants("4567") == ["4567"]
