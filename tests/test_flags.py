from llm_budget.render.flags import as_flags


def test_settings_become_the_options_a_user_types():
    assert as_flags({"precision": "nf4", "lora_rank": 16}) == "--precision nf4 --lora-rank 16"
    assert as_flags({"gpus": 4}) == "--gpus 4"
    assert as_flags({"sp": True, "tied": False}) == "--sp --no-tied"
    assert as_flags({}) == ""
