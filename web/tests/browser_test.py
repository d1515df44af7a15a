"""The page in a real browser: upload real models, check what it shows.

Expected values come from the mapping fixtures (llm-compressor's own answers
for each model) or from the files the tests write, never from the page's
code.
"""
import json
import re
import sys
import pathlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import make_safetensors  # noqa: E402

# The runfiles tree (under Bazel) mirrors the repository.
HERE = pathlib.Path(__file__).absolute().parent
W4A16_AWQ = HERE.parents[1] / "examples/recipes/w4a16_awq.yaml"


def run_check(page, timeout=120_000):
    page.click("#check")
    page.wait_for_selector("body[data-state=done]", timeout=timeout)


def verdict(page):
    node = page.locator("#verdict")
    return int(node.get_attribute("data-exit-code")), node.inner_text()


def assert_only_own_requests(page, site):
    foreign = [u for u in page.requests if not (u.startswith(site.url) or u.startswith("blob:"))]
    assert not foreign, f"the page reached outside its own site: {foreign}"


def fixture_with_config(fixtures_dir, tmp_path, name):
    """The fixture's module dump, and its config as config.json (with the
    architecture named, as a real config.json has it)."""
    dump = fixtures_dir / f"{name}.json"
    data = json.loads(dump.read_text())
    config = dict(data["config"], architectures=[data["architecture"]])
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    return data, dump, config_path


def open_group(page, locator):
    locator.locator("summary").click()
    locator.locator("ol.modules li").first.wait_for()


def test_llama_dump_config_and_recipe(page, site, fixtures_dir, tmp_path):
    data, dump, config = fixture_with_config(fixtures_dir, tmp_path, "LlamaForCausalLM")
    page.set_input_files("#file-config", str(config))
    page.set_input_files("#file-model", str(dump))
    page.set_input_files("#file-recipe", str(W4A16_AWQ))
    page.wait_for_function("() => document.getElementById('recipe-text').value.includes('duo_scaling')")
    run_check(page)

    code, text = verdict(page)
    assert code == 0
    assert "The recipe would run." in text
    assert "exit code 0" in text

    # llm-compressor resolves input_layernorm -> q/k/v once per decoder layer.
    layers = len([m for m in data["modules"] if re.fullmatch(r"model\.layers\.\d+", m["name"])])
    assert layers == data["config"]["num_hidden_layers"]
    group = page.locator(".mapping-group", has_text="input_layernorm →").first
    assert group.locator("summary").inner_text() == (
        f"layers 0-{layers - 1}: input_layernorm → self_attn.q_proj, self_attn.k_proj, self_attn.v_proj "
        f"(parent self_attn) ×{layers}")
    open_group(page, group)
    lines = group.locator("ol.modules li").all_inner_texts()
    assert len(lines) == layers
    assert lines[7] == ("model.layers.7.input_layernorm → model.layers.7.self_attn.q_proj, "
                        "model.layers.7.self_attn.k_proj, model.layers.7.self_attn.v_proj (parent model.layers.7.self_attn)")

    # The coverage grid: every decoder layer a row, lm_head outside, unquantized.
    grid = page.locator("table.coverage[data-stack='model.layers']")
    assert grid.locator("tbody tr").count() == layers
    quantized_kinds = {t.split(".", 3)[3] for t in data["w4a16_targets"]}
    assert grid.locator("tbody tr").first.locator("td.scheme-0").count() == len(quantized_kinds)
    assert "lm_head not quantized" in page.locator("#outside-layers").inner_text()
    assert_only_own_requests(page, site)
    assert not page.console_errors


def test_gemma3_multimodal_error_explained(page, fixtures_dir, tmp_path):
    data, dump, config = fixture_with_config(fixtures_dir, tmp_path, "Gemma3ForConditionalGeneration")
    page.set_input_files("#file-config", str(config))
    page.set_input_files("#file-model", str(dump))
    run_check(page)

    code, text = verdict(page)
    assert code == 1
    assert "llm-compressor would fail" in text
    error = page.locator("#diagnostics article.diagnostic.error").first
    assert error.get_attribute("data-code") == "awq.multiple_smooth_layers"
    # The full message is llm-compressor's own text (long: collapsed).
    error.locator("details.message summary").click()
    assert error.locator("details.message pre").inner_text() == data["awq_error"]
    explanation = error.locator(".explanation").inner_text()
    assert "model.vision_tower" in explanation and "model.language_model" in explanation
    fix = error.locator(".fix pre").inner_text()
    assert "smooth_layer:" in fix and "language_model" in fix
    assert data["awq_error"][:60] in page.locator("#awq .awq-error").inner_text()
    # Both layer stacks get a grid; layer_types label the decoder's rows.
    assert page.locator("table.coverage[data-stack='model.language_model.layers'] td.ltype").first.inner_text() == \
        data["config"]["text_config"]["layer_types"][0]
    assert page.locator("table.coverage[data-stack='model.vision_tower.encoder.layers']").count() == 1


def test_safetensors_header_only(page, site, tmp_path):
    # 20M-token vocabulary: a 5 GB checkpoint, all of it a sparse hole but
    # the header. Reading past the header would take minutes, not seconds.
    size = make_safetensors.write_model(tmp_path, vocab=20_000_000)
    assert size > 4 << 30
    page.set_input_files("#file-config", str(tmp_path / "config.json"))
    page.set_input_files("#file-model", str(tmp_path / "model.safetensors"))
    assert "headers only" in page.locator("#chosen-model").inner_text()
    run_check(page, timeout=60_000)

    code, _ = verdict(page)
    assert code == 0
    facts = page.locator("#model .facts").inner_text()
    assert "safetensors" in facts
    # Module names derived from the tensor names (x.weight -> module x).
    targets = page.locator("details.targets")
    targets.locator("summary").click()
    targets.locator("ol.modules li").first.wait_for()
    names = targets.locator("ol.modules li").all_inner_texts()
    expected = [n[: -len(".weight")] for n, shape in make_safetensors.llama_tensor_shapes(20_000_000)
                if len(shape) == 2 and ".layers." in n]
    assert names == expected
    # Grouped-query attention (4 heads, 2 KV heads): v_proj -> o_proj shapes differ.
    skipped = page.locator("#awq-skipped .skip-group")
    assert skipped.count() == 1
    assert skipped.first.get_attribute("data-reason") == "incompatible"
    assert "self_attn.v_proj" in skipped.first.inner_text()
    assert page.locator("#model-notes li").count() >= 1
    assert_only_own_requests(page, site)


def test_download_report_and_screenshot(page, fixtures_dir, tmp_path, artifacts):
    data, dump, config = fixture_with_config(fixtures_dir, tmp_path, "LlamaForCausalLM")
    page.set_input_files("#file-config", str(config))
    page.set_input_files("#file-model", str(dump))
    page.click("#use-default-recipe")
    assert "AWQModifier" in page.input_value("#recipe-text")
    run_check(page)

    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "wring-report.json"
    report = json.loads(pathlib.Path(download.path()).read_text())
    assert report["verdict"]["exit_code"] == int(page.locator("#verdict").get_attribute("data-exit-code"))
    assert report["model"]["architecture"] == data["architecture"]
    assert report["targets"] == data["w4a16_targets"]
    assert [(r["smooth"], r["balance"]) for r in report["awq"]["resolved"]][:2] == \
        [(r["smooth"], r["balance"]) for r in data["awq_resolved"]][:2]

    page.locator(".mapping-group summary").first.click()
    page.screenshot(path=str(artifacts / "llama_report.png"), full_page=True)


def test_not_a_safetensors_file_is_unusable_input(page, tmp_path):
    bogus = tmp_path / "model.safetensors"
    bogus.write_bytes(b"\xff" * 8 + b"{}")  # claims a header of 2^64-1 bytes
    page.set_input_files("#file-model", str(bogus))
    run_check(page)

    code, text = verdict(page)
    assert code == 2
    assert "exit code 2: unusable input" in text
    error = page.locator("#diagnostics article.diagnostic.error")
    assert error.get_attribute("data-code") == "input"
    assert "model.safetensors: header length 18446744073709551615 does not fit the file (10 bytes)" in error.inner_text()


def test_architecture_from_config_alone(page):
    config_path = HERE.parents[1] / "examples/models/Meta-Llama-3-8B/config.json"
    config = json.loads(config_path.read_text())
    page.set_input_files("#file-config", str(config_path))
    assert page.locator("#chosen-model").inner_text().startswith("none: architecture from config.json")
    run_check(page)

    code, _ = verdict(page)
    assert code == 0
    layers = config["num_hidden_layers"]
    assert page.locator("table.coverage[data-stack='model.layers'] tbody tr").count() == layers
    assert page.locator(".mapping-group summary", has_text="input_layernorm →").first.inner_text().startswith(
        f"layers 0-{layers - 1}: input_layernorm → ")
    # The page says the structure was inferred, not read.
    assert "config.json" in page.locator("#model-notes").inner_text()


def test_every_error_in_run_order_with_the_rest_computed(page):
    """SmolLM2-135M (hidden 576) under the default W4A16 recipe: the
    divisibility error is where a run stops, and the page still shows what
    AWQ would resolve once it is fixed (30 mappings, llm-compressor's own
    answer in tests/fixtures/check/SmolLM2-135M.json.xz)."""
    config_path = HERE.parents[1] / "examples/models/SmolLM2-135M/config.json"
    page.set_input_files("#file-config", str(config_path))
    run_check(page)

    code, text = verdict(page)
    assert code == 1
    first = page.locator("article.diagnostic").first
    assert first.get_attribute("data-code") == "quantization.group_size_divisibility"
    assert "a run stops here" in first.inner_text()
    assert "group_size: 64" in first.locator(".fix").inner_text()
    after = page.locator("article.diagnostic[data-code='awq.resolution_after_fixes']")
    assert "AWQ would resolve 30 mappings" in after.inner_text()
    assert "quantization.group_size_divisibility" in after.locator(".assumes").inner_text()
