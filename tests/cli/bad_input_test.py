#!/usr/bin/python3
"""Bad-input matrix: every input kind, broken in the ways users break it.

For each case the command must exit with the expected code, print exactly the
expected error line (one line, naming the file and the field), and leave every
file in the work directory as it was: earlier outputs (a composed adapter, a
results file, predictions) are neither modified nor removed, and nothing new
is written.

Usage: bad_input_test.py LORAHUB SHARED_DIR WORKDIR
"""
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile

lorahub, shared, work = sys.argv[1], os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3])
fixture = os.path.join(shared, "fixtures", "tiny-t5")
base, lora0 = os.path.join(fixture, "base"), os.path.join(fixture, "lora", "lora0")
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
os.chdir(work)
env = dict(os.environ, LORAHUB_SHARED=shared)


def run(args):
    return subprocess.run([lorahub] + args + ["--threads", "1"] * (args[0] not in ("run", "plan")),
                          capture_output=True, text=True, env=env)


def must(args):
    r = run(args)
    assert r.returncode == 0, (args, r.stderr)


# ---- inputs ---------------------------------------------------------------

def copy_dir(src, dst, skip=()):
    os.makedirs(dst)
    for name in os.listdir(src):
        if name not in skip:
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))
    return dst


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def write_safetensors(path, header, data, header_len=None):
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h) if header_len is None else header_len) + h + data)


def model_with(name, edit):
    """A copy of the fixture model whose safetensors header is edited."""
    d = copy_dir(base, name, skip=("pytorch_model.bin",))
    header, data = read_safetensors(os.path.join(base, "model.safetensors"))
    edit(header)
    write_safetensors(os.path.join(d, "model.safetensors"), header, data)
    return d


ST = "shared.weight"  # the first tensor of the fixture model
st_header, _st_data = read_safetensors(os.path.join(base, "model.safetensors"))
other = sorted(k for k in st_header if k not in ("__metadata__", ST))[0]

short = copy_dir(base, "st_short", skip=("pytorch_model.bin",))
with open(os.path.join(short, "model.safetensors"), "wb") as f:
    f.write(b"\x05\x00\x00")
past = copy_dir(base, "st_header_past_eof", skip=("pytorch_model.bin",))
write_safetensors(os.path.join(past, "model.safetensors"), st_header, b"", header_len=1 << 40)
model_with("st_overlap", lambda h: h[other].update(data_offsets=h[ST]["data_offsets"]))
model_with("st_offsets_past_eof", lambda h: h[ST].update(data_offsets=[h[ST]["data_offsets"][0], 1 << 30]))
model_with("st_dtype", lambda h: h[ST].update(dtype="F12"))
model_with("st_shape", lambda h: h[ST].update(shape=[h[ST]["shape"][0], h[ST]["shape"][1] + 1]))

trunc = copy_dir(base, "bin_truncated", skip=("model.safetensors",))
with open(os.path.join(base, "pytorch_model.bin"), "rb") as f:
    blob = f.read()
with open(os.path.join(trunc, "pytorch_model.bin"), "wb") as f:
    f.write(blob[:len(blob) // 2])
pickled = copy_dir(base, "bin_pickle", skip=("model.safetensors", "pytorch_model.bin"))
with zipfile.ZipFile(os.path.join(pickled, "pytorch_model.bin"), "w") as z:
    # a pickle that calls os.system: torch.load(weights_only) refuses such globals, so must we
    z.writestr("archive/data.pkl", b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.")
    z.writestr("archive/version", b"3\n")

cfg_missing = copy_dir(base, "config_missing_field")
cfg = json.load(open(os.path.join(base, "config.json")))
json.dump({k: v for k, v in cfg.items() if k != "d_model"}, open(os.path.join(cfg_missing, "config.json"), "w"))
cfg_type = copy_dir(base, "config_wrong_type")
json.dump(dict(cfg, num_heads="four"), open(os.path.join(cfg_type, "config.json"), "w"))
cfg_json = copy_dir(base, "config_not_json")
open(os.path.join(cfg_json, "config.json"), "w").write('{"d_model": 32,')


def repack(header, data):
    """The tensors laid end to end in offset order (a removed tensor leaves no
    gap), as a writer would: the file then has only the fault meant."""
    out, blob = {}, b""
    for k, v in sorted(((k, v) for k, v in header.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"]):
        lo, hi = v["data_offsets"]
        out[k] = dict(v, data_offsets=[len(blob), len(blob) + hi - lo])
        blob += data[lo:hi]
    if "__metadata__" in header:
        out["__metadata__"] = header["__metadata__"]
    return out, blob


def adapter_with(name, edit_config=None, edit_tensors=None):
    d = copy_dir(lora0, name, skip=("adapter_model.bin",))
    if edit_config:
        c = json.load(open(os.path.join(lora0, "adapter_config.json")))
        edit_config(c)
        json.dump(c, open(os.path.join(d, "adapter_config.json"), "w"))
    if edit_tensors:
        header, data = read_safetensors(os.path.join(lora0, "adapter_model.safetensors"))
        data += edit_tensors(header, data) or b""
        header, data = repack(header, data)
        write_safetensors(os.path.join(d, "adapter_model.safetensors"), header, data)
    return d


ad_header, _ = read_safetensors(os.path.join(lora0, "adapter_model.safetensors"))
b_key = sorted(k for k in ad_header if k.endswith("lora_B.weight"))[0]
a_key = b_key.replace("lora_B", "lora_A")
adapter_with("adapter_no_r", edit_config=lambda c: c.pop("r"))
adapter_with("adapter_rank_string", edit_config=lambda c: c.update(r="four"))
adapter_with("adapter_unknown_target", edit_config=lambda c: c.update(target_modules=["q", "v", "gate"]))
adapter_with("adapter_missing_pair", edit_tensors=lambda h, d: h.pop(b_key) and None)
adapter_with("adapter_wrong_shape", edit_tensors=lambda h, d: h[a_key].update(shape=h[a_key]["shape"][::-1]))


def add_gate_pair(h, d):
    """A lora_A/lora_B pair, with data of its own, on a projection T5 does not have."""
    extra = b""
    for key in (a_key, b_key):
        lo, hi = h[key]["data_offsets"]
        start = len(d) + len(extra)
        h[key.replace(".q.", ".gate.")] = dict(h[key], data_offsets=[start, start + hi - lo])
        extra += d[lo:hi]
    return extra


adapter_with("adapter_unknown_tensor", edit_tensors=add_gate_pair)

# ---- issue 16: inputs users really send --------------------------------------
cases_dir = os.path.join(shared, "cases")
for name in ("dora_without_magnitude", "dup_key", "lora2_nan", "lora2_inf"):
    copy_dir(os.path.join(cases_dir, name), name)


def first_nonfinite(path, key):
    """[i, j] of the first NaN/inf of a float32 tensor, by a second reader (numpy)."""
    import numpy as np
    header, data = read_safetensors(path)
    lo, hi = header[key]["data_offsets"]
    t = np.frombuffer(data[lo:hi], dtype="<f4").reshape(header[key]["shape"])
    return ", ".join(str(int(i)) for i in np.argwhere(~np.isfinite(t))[0])


nan_key = "base_model.model.decoder.block.1.layer.1.EncDecAttention.v.lora_B.weight"
nan_at = {n: first_nonfinite(os.path.join(n, "adapter_model.safetensors"), nan_key) for n in ("lora2_nan", "lora2_inf")}


def set_float(path, key, index, value):
    """Writes one float32 element of a safetensors tensor in place."""
    header, data = read_safetensors(path)
    lo, _ = header[key]["data_offsets"]
    data = bytearray(data)
    data[lo + 4 * index:lo + 4 * index + 4] = struct.pack("<f", value)
    write_safetensors(path, header, bytes(data))


def scaled_copy(src, dst, keys, factor):
    """A copy of safetensors `src` with the float32 tensors `keys` multiplied by factor."""
    import numpy as np
    header, data = read_safetensors(src)
    data = bytearray(data)
    for key in keys:
        lo, hi = header[key]["data_offsets"]
        data[lo:hi] = (np.frombuffer(bytes(data[lo:hi]), dtype="<f4") * np.float32(factor)).astype("<f4").tobytes()
    write_safetensors(dst, header, bytes(data))


model_nan = copy_dir(base, "model_nan", skip=("pytorch_model.bin",))
set_float(os.path.join(model_nan, "model.safetensors"), "encoder.final_layer_norm.weight", 5, float("nan"))
model_huge = copy_dir(base, "model_huge", skip=("pytorch_model.bin",))  # finite, but the logits overflow: NaN losses
scaled_copy(os.path.join(base, "model.safetensors"), os.path.join(model_huge, "model.safetensors"),
            ["decoder.final_layer_norm.weight", "lm_head.weight"], 1e30)
lora_huge = adapter_with("lora_huge")  # finite, but B A overflows float32
scaled_copy(os.path.join(lora0, "adapter_model.safetensors"), os.path.join(lora_huge, "adapter_model.safetensors"),
            [k for k in ad_header if k != "__metadata__"], 1e20)
gap = copy_dir(base, "st_gap", skip=("pytorch_model.bin",))  # 4 bytes between the first tensor and the next
gap_header = json.loads(json.dumps(st_header))
by_offset = sorted((v["data_offsets"][0], k) for k, v in gap_header.items() if k != "__metadata__")
first_st, after_st = by_offset[0][1], by_offset[1][1]
st_end = gap_header[first_st]["data_offsets"][1]
for k, v in gap_header.items():
    if k != "__metadata__" and v["data_offsets"][0] >= st_end:
        v["data_offsets"] = [v["data_offsets"][0] + 4, v["data_offsets"][1] + 4]
write_safetensors(os.path.join(gap, "model.safetensors"), gap_header, _st_data[:st_end] + b"\0" * 4 + _st_data[st_end:])
trailing = copy_dir(base, "st_trailing", skip=("pytorch_model.bin",))
write_safetensors(os.path.join(trailing, "model.safetensors"), st_header, _st_data + b"\0" * 8)
adapter_with("adapter_modules_to_save", edit_config=lambda c: c.update(modules_to_save=["lm_head"]))
adapter_with("adapter_rank_pattern", edit_config=lambda c: c.update(rank_pattern={"EncDecAttention.v": 8}))
adapter_with("adapter_layers_regex", edit_config=lambda c: c.update(target_modules=".*q", layers_to_transform=[0]))
# layers_to_transform that PEFT 0.7.1 and newer PEFT read as other layers (T5 without layers_pattern), or not at all.
adapter_with("adapter_layers_by_version", edit_config=lambda c: c.update(layers_to_transform=[1]))
adapter_with("adapter_layers_empty", edit_config=lambda c: c.update(layers_to_transform=[]))
adapter_with("adapter_layers_pattern_group", edit_config=lambda c: c.update(layers_to_transform=[1],
                                                                            layers_pattern="(block)"))
# Regexes Python's re (PEFT) and std::regex read differently.
adapter_with("adapter_regex_end_z", edit_config=lambda c: c.update(target_modules=r".*\.(q|v)\Z"))
adapter_with("adapter_regex_posix", edit_config=lambda c: c.update(target_modules=r".*\.[[:lower:]]"))
adapter_with("adapter_regex_no_min", edit_config=lambda c: c.update(target_modules=r".*\.[qv]{,1}"))
adapter_with("adapter_regex_named", edit_config=lambda c: c.update(target_modules=r"(?P<m>.*)\.(q|v)"))
adapter_with("adapter_regex_flags", edit_config=lambda c: c.update(target_modules=r"(?i).*\.(Q|V)"))
adapter_with("adapter_alpha_key_z", edit_config=lambda c: c.update(alpha_pattern={r"q\Z": 16}))


def adapter_named_keys(h, d):
    """Keys as PeftModel.state_dict() gives them: "...lora_A.default.weight"."""
    for k in [k for k in h if k != "__metadata__"]:
        h[k[:-len(".weight")] + ".default.weight"] = h.pop(k)


adapter_with("adapter_named_keys", edit_tensors=adapter_named_keys)
adapter_with("adapter_pissa", edit_config=lambda c: c.update(init_lora_weights="pissa"))
adapter_with("adapter_bias", edit_config=lambda c: c.update(bias="lora_only"))
tok_eos = copy_dir(base, "tok_eos")
tok_cfg = json.load(open(os.path.join(base, "tokenizer_config.json")))
json.dump(dict(tok_cfg, eos_token="<eos>"), open(os.path.join(tok_eos, "tokenizer_config.json"), "w"))
tok_bos = copy_dir(base, "tok_bos")
json.dump(dict(tok_cfg, add_bos_token=True), open(os.path.join(tok_bos, "tokenizer_config.json"), "w"))
open("shots.jsonl", "w").write(open(os.path.join(cases_dir, "shots6.jsonl")).read())
# Text files as Windows editors write them (CRLF, UTF-8 BOM) are read as the
# same text: checked after the matrix.
with open("shots_crlf_bom.jsonl", "wb") as f:
    f.write(b"\xef\xbb\xbf" + open("shots.jsonl", "rb").read().replace(b"\n", b"\r\n"))
with open("modules_crlf_bom.txt", "wb") as f:
    f.write(b"\xef\xbb\xbf# modules\r\n" + lora0.encode() + b"\r\n")

def rank2_adapter(name):
    """lora0 cut to r = 2 (the first rows of every A, columns of every B), lora_alpha 4."""
    import array
    d = copy_dir(lora0, name, skip=("adapter_model.bin", "adapter_model.safetensors"))
    c = json.load(open(os.path.join(lora0, "adapter_config.json")))
    json.dump(dict(c, r=2, lora_alpha=4), open(os.path.join(d, "adapter_config.json"), "w"))
    header, data = read_safetensors(os.path.join(lora0, "adapter_model.safetensors"))
    out, blob = {"__metadata__": header["__metadata__"]}, b""
    for key in sorted(k for k in header if k != "__metadata__"):
        lo, hi = header[key]["data_offsets"]
        rows, cols = header[key]["shape"]
        x = array.array("f", data[lo:hi])
        is_a = "lora_A" in key
        y = x[:2 * cols] if is_a else array.array("f", [x[i * cols + j] for i in range(rows) for j in range(2)])
        out[key] = dict(header[key], shape=[2, cols] if is_a else [rows, 2],
                        data_offsets=[len(blob), len(blob) + len(y.tobytes())])
        blob += y.tobytes()
    write_safetensors(os.path.join(d, "adapter_model.safetensors"), out, blob)
    return d


rank2 = rank2_adapter("adapter_rank2")
# A pool of two ranks for the runner: merge ties refuses it at config time
# (naming the key), merge cat runs on it (checked before the matrix).
copy_dir(lora0, os.path.join("rank_pool", "lora0"))
copy_dir(rank2, os.path.join("rank_pool", "lora_r2"))


def rank_config(name, merge_method):
    open(name, "w").write(f"""model: {base}
modules:
  dir: rank_pool
  ids: [lora0, lora_r2]
bbh:
  dir: {os.path.join(shared, "data", "bbh")}
  tasks: [navigate]
  max_eval: 2
sweep:
  seeds: [1]
  n_modules: [2]
  n_shots: [3]
  methods:
    - {{name: merge, merge_method: {merge_method}}}
evaluation:
  max_new_tokens: 4
runtime:
  threads: 1
""")


rank_config("rank_ties.yaml", "ties")
rank_config("rank_cat.yaml", "cat")

for name, text in [("bbh_not_json", "examples: none"), ("bbh_missing_keys", '{"examples": [{"input": "x"}]}'),
                   ("bbh_empty", '{"examples": []}')]:
    os.makedirs(os.path.join(name, "bbh"))
    os.makedirs(os.path.join(name, "cot-prompts"))
    open(os.path.join(name, "bbh", "t.json"), "w").write(text)
    open(os.path.join(name, "cot-prompts", "t.txt"), "w").write("instruction\n-----\nDo it.\n")

open("examples_not_json.jsonl", "w").write('{"input": "a", "target": "b"}\nnot json\n')
open("examples_no_target.jsonl", "w").write('{"input": "a", "target": "b"}\n{"input": "c"}\n')
open("examples_empty.jsonl", "w").write("\n")
open("examples_null_input.jsonl", "w").write('{"input": "a", "target": "b"}\n{"input": null, "target": "d"}\n')
open("examples_ok.jsonl", "w").write('{"input": "a", "target": "b"}\n{"input": "c", "target": "d"}\n')

fixture_cfg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "fixture.yaml")
cfg_text = open(fixture_cfg).read()
open("sweep.yaml", "w").write(cfg_text.replace("max_eval: 6", "max_eval: 2").replace("seeds: [1, 2]", "seeds: [1]"))
open("yaml_syntax.yaml", "w").write(cfg_text.replace("  seeds: [1, 2]", "  seeds: [1, 2"))
open("yaml_unknown_key.yaml", "w").write(cfg_text.replace("  seeds: [1, 2]", "  seeds: [1, 2]\n  seed_list: [3]"))
open("yaml_bad_type.yaml", "w").write(cfg_text.replace("n_shots: [3, 5]", "n_shots: [3, five]"))
open("yaml_stop_scalar.yaml", "w").write(cfg_text.replace("  max_new_tokens: 6", "  max_new_tokens: 6\n  stop_strings: \"Q:\""))
open("yaml_other.yaml", "w").write(cfg_text.replace("budget: 6", "budget: 7"))

# ---- issue 14: adapters and flags that do not fit a Llama (tiny-llama) --------
llama_fixture = os.path.join(shared, "fixtures", "tiny-llama")
llama_base = os.path.join(llama_fixture, "base")
llama_lora0 = os.path.join(llama_fixture, "lora", "lora0")
llama_ia3 = os.path.join(llama_fixture, "ia3", "ia3_0")


def llama_adapter_with(name, src, edit):
    d = copy_dir(src, name, skip=("adapter_model.bin",))
    c = json.load(open(os.path.join(src, "adapter_config.json")))
    edit(c)
    json.dump(c, open(os.path.join(d, "adapter_config.json"), "w"))
    return d


llama_adapter_with("llama_lora_seq2seq", llama_lora0, lambda c: c.update(task_type="SEQ_2_SEQ_LM"))
llama_adapter_with("llama_lora_t5_targets", llama_lora0, lambda c: c.update(target_modules=["q", "v"]))
llama_adapter_with("llama_ia3_seq2seq", llama_ia3, lambda c: c.update(task_type="SEQ_2_SEQ_LM"))
llama_adapter_with("llama_ia3_t5_targets", llama_ia3, lambda c: c.update(target_modules=["k", "v", "wo"],
                                                                           feedforward_modules=["wo"]))
llama_adapter_with("llama_ia3_feedforward", llama_ia3, lambda c: c.update(feedforward_modules=["down_proj", "up_proj"]))
open("llama_examples.jsonl", "w").write('{"input": "Q: a\\nA:", "target": "b"}\n')
llama_hint = "Llama's are q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"


def llama_compose(adapter, model=llama_base):
    return ["compose", "--model", model, "--modules", adapter, "--weights=0.5", "--out", "composed"]


def llama_loss(adapter):
    return ["loss", "--model", llama_base, "--examples", "llama_examples.jsonl", "--adapter", adapter]


# ---- issue 16, second round: each kind of fault refused in one place ----------
model_copy = copy_dir(base, "model_copy", skip=("pytorch_model.bin",))  # outputs aimed at inputs
adapter_with("adapter_copy")
adapter_with("adapter_bias_null", edit_config=lambda c: c.update(bias=None))
adapter_with("adapter_alpha_by_version", edit_config=lambda c: c.update(alpha_pattern={"decoder.*": 16}))
model_with("st_int", lambda h: h[ST].update(dtype="I32"))  # same bytes, an integer dtype
lora1 = os.path.join(fixture, "lora", "lora1")
ia3_0 = os.path.join(fixture, "ia3", "ia3_0")


def ia3_with(name, edit):
    d = copy_dir(ia3_0, name, skip=("adapter_model.bin",))
    c = json.load(open(os.path.join(ia3_0, "adapter_config.json")))
    edit(c)
    json.dump(c, open(os.path.join(d, "adapter_config.json"), "w"))
    return d


ia3_with("ia3_modules_to_save", lambda c: c.update(modules_to_save=["lm_head"]))
ia3_with("ia3_not_targeted", lambda c: c.update(target_modules=["k", "v"], feedforward_modules=[]))
tok_map = copy_dir(base, "tok_map_eos")  # special_tokens_map.json overrides a config without added_tokens_decoder
json.dump({k: v for k, v in tok_cfg.items() if k != "added_tokens_decoder"},
          open(os.path.join(tok_map, "tokenizer_config.json"), "w"))
json.dump({"eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"},
          open(os.path.join(tok_map, "special_tokens_map.json"), "w"))
tok_extra = copy_dir(base, "tok_extra_ids")  # sentinel ids past the model's vocabulary
json.dump(dict(tok_cfg, extra_ids=100), open(os.path.join(tok_extra, "tokenizer_config.json"), "w"))
nul_pad = copy_dir(base, "st_nul_pad", skip=("pytorch_model.bin",))  # header padded with NUL, not spaces
nul_header = json.dumps(st_header).encode()
with open(os.path.join(nul_pad, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(nul_header) + 4) + nul_header + b"\0" * 4 + _st_data)
tok_class = copy_dir(base, "tok_class")
json.dump(dict(tok_cfg, tokenizer_class="LlamaTokenizer"), open(os.path.join(tok_class, "tokenizer_config.json"), "w"))
yaml_cases = {
    "yaml_dup_key": cfg_text.replace("      budget: 6", "      budget: 6\n      budget: 9"),
    "yaml_dup_top": cfg_text + "output: other.h5\n",
    "yaml_two_docs": cfg_text + "---\nmodel: x\n",
    "yaml_unused_field": cfg_text.replace("    - zero_shot", "    - {name: zero_shot, budget: 5}"),
    "yaml_lorahub_lr": cfg_text.replace("      budget: 6", "      budget: 6\n      lr: 0.1"),
    "yaml_population": cfg_text.replace("      budget: 6", "      budget: 6\n      population: 4"),
    "yaml_l1_nan": cfg_text.replace("      budget: 6", "      budget: 6\n      l1: .nan"),
    "yaml_bound_inf": cfg_text.replace("      budget: 6", "      budget: 6\n      bound: .inf"),
    "yaml_output_empty": cfg_text.replace("output: fixture-results.h5", "output: ''"),
    "yaml_seeds_dup": cfg_text.replace("seeds: [1, 2]", "seeds: [1, 1]"),
    "yaml_ids_dup": cfg_text.replace("ids: [lora0, lora1, lora2, lora3, lora4]", "ids: [lora0, lora0, lora1]"),
    "yaml_tasks_dup": cfg_text.replace("tasks: [boolean_expressions, navigate, word_sorting]",
                                       "tasks: [navigate, boolean_expressions, navigate]"),
    "yaml_null": cfg_text.replace("  max_eval: 6", "  max_eval: ~"),
    "yaml_flush_negative": cfg_text.replace("flush_interval_s: 0", "flush_interval_s: -5"),
    "yaml_l1_overflow": cfg_text.replace("      budget: 6", "      budget: 6\n      l1: 1e400"),
}
for name, text in yaml_cases.items():
    open(name + ".yaml", "w").write(text)

# ---- issue 16, third round (break16b): non-finite numbers, outputs checked first ----
cfg_eps = copy_dir(base, "config_eps_negative")  # rsqrt(var - 1): NaN logits in silence
json.dump(dict(cfg, layer_norm_epsilon=-1.0), open(os.path.join(cfg_eps, "config.json"), "w"))
llama_eps = copy_dir(llama_base, "llama_eps_zero", skip=("pytorch_model.bin",))
llama_cfg = json.load(open(os.path.join(llama_base, "config.json")))
json.dump(dict(llama_cfg, rms_norm_eps=0), open(os.path.join(llama_eps, "config.json"), "w"))
adapter_with("adapter_alpha_1e300", edit_config=lambda c: c.update(lora_alpha=1e300))  # scale past float32
llama_adapter_with("llama_alpha_1e20", llama_lora0, lambda c: c.update(lora_alpha=1e20))  # finite scale, NaN loss
open("plain_file", "w").write("not a directory\n")

# ---- issue 16, fourth round (break16c) ----------------------------------------
tied = copy_dir(base, "model_tied_own_head", skip=("pytorch_model.bin",))  # F2: tied config, own differing head
json.dump(dict(cfg, tie_word_embeddings=True), open(os.path.join(tied, "config.json"), "w"))
adapter_with("adapter_init_bogus", edit_config=lambda c: c.update(init_lora_weights="bogus"))  # F7
dup_field = copy_dir(lora0, "adapter_dup_field", skip=("adapter_model.bin",))  # F6: a field twice in one entry
dup_header, dup_data = read_safetensors(os.path.join(lora0, "adapter_model.safetensors"))
dup_tensor = next(k for k in dup_header if k != "__metadata__")
dup_text = json.dumps(dup_header).replace('"dtype": "F32"', '"dtype": "F32", "dtype": "F32"', 1).encode()
with open(os.path.join(dup_field, "adapter_model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(dup_text)) + dup_text + dup_data)
open("shots_target_output.jsonl", "w").write('{"input": "a", "target": "b", "output": "c"}\n')  # minor
for name, text in {"yaml_leading_zero": cfg_text.replace("seeds: [1, 2]", "seeds: [010, 2]"),
                   "yaml_merge_key": cfg_text.replace("      budget: 6", "      <<: {budget: 6}")}.items():
    open(name + ".yaml", "w").write(text)
open("held.h5.lock", "w").write("other-host 1 -\n")  # F4: a run on another host holds held.h5
# break16d F5: module ids that give one trial id; F6: a task too small for the sweep's shots
os.makedirs("mods_collide/org")
os.symlink(os.path.abspath(lora0), "mods_collide/org/lora0")
os.symlink(os.path.abspath(lora0), "mods_collide/org_lora0")
modules_line = next(l for l in cfg_text.splitlines() if l.startswith("  dir:") and "tiny-t5/lora" in l)
bbh_line = next(l for l in cfg_text.splitlines() if l.startswith("  dir:") and "bbh" in l)
open("yaml_collide.yaml", "w").write(
    cfg_text.replace(modules_line, "  dir: mods_collide").replace("ids: [lora0, lora1, lora2, lora3, lora4]",
                                                                  "ids: [org/lora0, org_lora0]")
    .replace("n_modules: [2, 5]", "n_modules: [2]").replace("    - zero_shot\n", "    - zero_shot\n    - single\n"))
os.makedirs("bbh_small/bbh")
os.makedirs("bbh_small/cot-prompts")
open("bbh_small/bbh/t.json", "w").write(json.dumps({"examples": [{"input": f"q{i}", "target": "a"} for i in range(5)]}))
open("bbh_small/cot-prompts/t.txt", "w").write("instruction\n-----\nDo it.\n")
open("yaml_same_dir.yaml", "w").write(cfg_text.replace("ids: [lora0, lora1, lora2, lora3, lora4]",
                                                      "ids: [lora0, lora1, lora2, lora3, lora4, ./lora1/]"))
open("yaml_small_task.yaml", "w").write(
    cfg_text.replace(bbh_line, "  dir: bbh_small").replace("tasks: [boolean_expressions, navigate, word_sorting]",
                                                           "tasks: [t]"))
os.makedirs("jdir.h5.journal")  # F8: a directory where the journal goes

# break16d F1-F3, F7, F9 and minor: files transformers reads, strict safetensors, densities, decays, YAML text


def model_files(name, src, edits):
    """A copy of model directory `src` with JSON files edited: {file: function(doc)}."""
    d = copy_dir(src, name, skip=("pytorch_model.bin",))
    for file, edit in edits.items():
        doc = json.load(open(os.path.join(src, file)))
        edit(doc)
        json.dump(doc, open(os.path.join(d, file), "w"))
    return d


def saved_generation(**fields):  # a saved generation config: no "_from_model_config"
    return lambda g: (g.pop("_from_model_config", None), g.update(fields))


model_files("gen_ngram", base, {"generation_config.json": saved_generation(no_repeat_ngram_size=2)})
model_files("llama_gen_beams", llama_base, {"generation_config.json": saved_generation(num_beams=4)})
model_files("cfg_beams", base, {"config.json": lambda c: c.update(num_beams=4)})  # config.json's own generation field
model_files("gen_no_start", base, {"generation_config.json": saved_generation(decoder_start_token_id=None)})
model_line = next(l for l in cfg_text.splitlines() if l.startswith("model:"))
open("yaml_gen_model.yaml", "w").write(cfg_text.replace(model_line, "model: gen_ngram"))  # refused before any file
model_files("cfg_act_bogus", base, {"config.json": lambda c: c.update(dense_act_fn="gelu_bogus")})
model_files("cfg_not_gated", base, {"config.json": lambda c: c.update(is_gated_act=False)})
model_files("cfg_rmd8", base, {"config.json": lambda c: c.update(relative_attention_max_distance=8)})
model_files("llama_cls_true", llama_base, {"tokenizer_config.json": lambda t: t.update(cls_token="True")})
adapter_with("adapter_enable_lora", edit_config=lambda c: c.update(enable_lora=[True, False, True]))
bom = copy_dir(lora0, "st_bom", skip=("adapter_model.bin",))  # F7: a header that starts with a UTF-8 BOM
bom_header, bom_data = read_safetensors(os.path.join(lora0, "adapter_model.safetensors"))
bom_text = b"\xef\xbb\xbf" + json.dumps(bom_header).encode()
with open(os.path.join(bom, "adapter_model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(bom_text)) + bom_text + bom_data)
deep = copy_dir(base, "st_deep", skip=("pytorch_model.bin",))  # nesting past serde_json's recursion limit
deep_text = json.dumps(st_header).replace('"' + ST + '": {', '"' + ST + '": {"x": ' + "[" * 126 + "]" * 126 + ", ", 1)
with open(os.path.join(deep, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(deep_text)) + deep_text.encode() + _st_data)
methods_line = "    - zero_shot\n"
open("yaml_density_tiny.yaml", "w").write(cfg_text.replace(
    methods_line, methods_line + "    - {name: merge, merge_method: dare_linear, density: 1.0e-320}\n"))
open("yaml_two_boms.yaml", "w", encoding="utf-8").write("\ufeff\ufeff" + cfg_text)
open("yaml_output_cr.yaml", "w").write(cfg_text.replace("output: fixture-results.h5", 'output: "fixture-results.h5\\r"'))

# ---- earlier outputs that must survive --------------------------------------

must(["compose", "--model", base, "--modules", lora0, "--weights=0.5", "--out", "composed"])
must(["run", "sweep.yaml", "--output", "results.h5", "--no-progress"])
must(["run", "rank_cat.yaml", "--output", "rank_cat.h5", "--no-progress"])
preds = "predictions.jsonl"
open(preds, "w").write('{"earlier": true}\n')

# ---- the matrix ---------------------------------------------------------------

compose = ["compose", "--model", base, "--modules", lora0, "--weights=0.5", "--out", "composed"]


def with_model(m):
    return ["compose", "--model", m, "--modules", lora0, "--weights=0.5", "--out", "composed"]


def with_adapter(a):
    return ["compose", "--model", base, "--modules", a, "--weights=0.5", "--out", "composed"]


def with_method(*flags, modules=(lora0,)):
    return ["compose", "--model", base, "--modules", *modules, "--weights=" + ",".join(["0.5"] * len(modules)),
            "--out", "composed", *flags]


def with_bbh(b):
    return ["eval", "--model", base, "--bbh", b, "--tasks", "t", "--predictions", preds]


def learn_with(model, modules, examples="shots.jsonl"):
    return ["learn", "--model", model, "--modules"] + modules + ["--examples", examples, "--budget", "2", "--export",
                                                                 "composed", "--quiet"]


def with_examples(e):
    return ["learn", "--model", base, "--modules", lora0, "--examples", e, "--budget", "2", "--export", "composed",
            "--quiet"]


cases = [
    # kind, command, exit code, the exact error line
    ('CLI: unknown flag', compose + ["--wieghts=1"], 2,
     "lorahub compose: error: unrecognised option '--wieghts=1' (see lorahub compose --help)"),
    ('CLI: bad number', ["learn", "--model", base, "--modules", lora0, "--examples", "x", "--budget", "many"], 2,
     "lorahub learn: error: the argument ('many') for option '--budget' is invalid (see lorahub learn --help)"),
    ('CLI: weights count', ["compose", "--model", base, "--modules", lora0, "--weights=0.5,1", "--out", "composed"], 2,
     'lorahub compose: error: --weights: 2 weights for 1 modules (see lorahub compose --help)'),
    ('CLI: missing flag', ["compose", "--model", base, "--weights=0.5", "--out", "composed"], 2,
     'lorahub compose: error: no LoRA modules: give --modules or --modules-file (see lorahub compose --help)'),
    ('config.json: missing field', with_model("config_missing_field"), 1,
     "lorahub compose: error: config_missing_field/config.json: field 'd_model': missing"),
    ('config.json: wrong type', with_model("config_wrong_type"), 1,
     "lorahub compose: error: config_wrong_type/config.json: field 'num_heads': expected an integer, found string"),
    ('config.json: not JSON', with_model("config_not_json"), 1,
     'lorahub compose: error: config_not_json/config.json: not valid JSON ([json.exception.parse_error.101] parse error at line 1, column 16: syntax error while parsing object key - unexpected end of input; expected string literal)'),
    ('safetensors: short file', with_model("st_short"), 1,
     'lorahub compose: error: st_short/model.safetensors: invalid safetensors file: shorter than the 8-byte header length (3 bytes)'),
    ('safetensors: header length past EOF', with_model("st_header_past_eof"), 1,
     'lorahub compose: error: st_header_past_eof/model.safetensors: invalid safetensors file: header length 1099511627776 runs past the end of the file (6232 bytes)'),
    ('safetensors: overlapping offsets', with_model("st_overlap"), 1,
     "lorahub compose: error: st_overlap/model.safetensors: invalid safetensors file: tensor 'decoder.block.0.layer.0.SelfAttention.k.weight': shape and dtype need 16384 bytes but data_offsets span 102400"),
    ('safetensors: offsets past EOF', with_model("st_offsets_past_eof"), 1,
     "lorahub compose: error: st_offsets_past_eof/model.safetensors: invalid safetensors file: tensor 'shared.weight': data_offsets end at 1073741824, past the end of the data (995328 bytes)"),
    ('safetensors: unknown dtype', with_model("st_dtype"), 1,
     "lorahub compose: error: st_dtype/model.safetensors: invalid safetensors file: tensor 'shared.weight': unknown dtype 'F12'"),
    ('merge: unknown method', with_method("--method", "dare"), 2,
     'lorahub compose: error: --method: expected one of lorahub, cat, linear, svd, ties, ties_svd, dare_linear, '
     'dare_ties, dare_linear_svd, dare_ties_svd, magnitude_prune, magnitude_prune_svd, found "dare" '
     '(see lorahub compose --help)'),
    ('merge: density 0', with_method("--method", "ties", "--density", "0"), 2,
     'lorahub compose: error: --density: expected a number in (0, 1], found 0 (see lorahub compose --help)'),
    ('merge: density above 1', with_method("--method", "dare_linear", "--density", "1.5"), 2,
     'lorahub compose: error: --density: expected a number in (0, 1], found 1.5 (see lorahub compose --help)'),
    ('merge: density for a method without pruning', with_method("--method", "linear", "--density", "0.5"), 2,
     'lorahub compose: error: --density: not used by --method linear (see lorahub compose --help)'),
    ('merge: majority sign', with_method("--method", "ties", "--majority-sign", "mean"), 2,
     'lorahub compose: error: --majority-sign: expected total or frequency, found "mean" (see lorahub compose --help)'),
    ('merge: different ranks', with_method("--method", "ties", "--density", "0.5", modules=(lora0, rank2)), 2,
     f"lorahub compose: error: --method ties: ties needs modules of equal rank: '{rank2}' has r = 2 but '{lora0}' "
     "has r = 4 (cat and the svd methods accept different ranks) (see lorahub compose --help)"),
    ('safetensors: shape x dtype != bytes', with_model("st_shape"), 1,
     "lorahub compose: error: st_shape/model.safetensors: invalid safetensors file: tensor 'shared.weight': shape and dtype need 104000 bytes but data_offsets span 102400"),
    ('.bin: truncated zip', with_model("bin_truncated"), 1,
     'lorahub compose: error: bin_truncated/pytorch_model.bin: cannot read torch checkpoint: truncated zip archive (no end-of-central-directory record); the file is incomplete'),
    ('.bin: unsupported pickle', with_model("bin_pickle"), 1,
     "lorahub compose: error: bin_pickle/pytorch_model.bin: cannot read torch checkpoint: LibTorch's unpickler failed (Unpickler found unknown type os.system); it reads plain dicts of two or more tensors, not OrderedDicts, one-entry dicts or truncated archives; convert the file to .safetensors"),
    ('adapter_config.json: no r', with_adapter("adapter_no_r"), 1,
     "lorahub compose: error: adapter_no_r/adapter_config.json: field 'r': missing"),
    ('adapter_config.json: r not a number', with_adapter("adapter_rank_string"), 1,
     "lorahub compose: error: adapter_rank_string/adapter_config.json: field 'r': expected an integer, found string"),
    ('adapter_config.json: unknown target', with_adapter("adapter_unknown_target"), 1,
     "lorahub compose: error: adapter_unknown_target/adapter_config.json: field 'target_modules': 'gate' names no projection of the base model (T5's are q, k, v, o, wi or wi_0/wi_1, wo)"),
    ('adapter tensors: missing pair', with_adapter("adapter_missing_pair"), 1,
     "lorahub compose: error: adapter_missing_pair/adapter_model.safetensors: module 'decoder.block.0.layer.0.SelfAttention.q' has lora_A but no lora_B"),
    ('adapter tensors: wrong shape', with_adapter("adapter_wrong_shape"), 1,
     "lorahub compose: error: adapter_wrong_shape/adapter_model.safetensors: tensor 'base_model.model.decoder.block.0.layer.0.SelfAttention.q.lora_A.weight' has shape [64, 4], expected [4, 64] (r = 4, base in = 64)"),
    ('adapter tensors: unknown target', with_adapter("adapter_unknown_tensor"), 1,
     "lorahub compose: error: adapter_unknown_tensor/adapter_model.safetensors: module 'decoder.block.0.layer.0.SelfAttention.gate' is not a projection of the base model (unknown target)"),
    # issue 16: config fields refused by name, non-finite values, strict safetensors, tokenizer settings
    ('adapter_config.json: use_dora', with_adapter("dora_without_magnitude"), 1,
     "lorahub compose: error: dora_without_magnitude/adapter_config.json: field 'use_dora': DoRA (weight-decomposed "
     "LoRA, magnitude vectors) is not supported; expected false"),
    ('adapter_config.json: modules_to_save', with_adapter("adapter_modules_to_save"), 1,
     "lorahub compose: error: adapter_modules_to_save/adapter_config.json: field 'modules_to_save': not supported; "
     'expected null, found ["lm_head"]'),
    ('adapter_config.json: rank_pattern', with_adapter("adapter_rank_pattern"), 1,
     "lorahub compose: error: adapter_rank_pattern/adapter_config.json: field 'rank_pattern': module "
     "'decoder.block.0.layer.1.EncDecAttention.v' gets rank 8 from key 'EncDecAttention.v', but per-module ranks are "
     "not supported (r = 4)"),
    ('adapter_config.json: layers_to_transform with a regex', with_adapter("adapter_layers_regex"), 1,
     "lorahub compose: error: adapter_layers_regex/adapter_config.json: field 'layers_to_transform': cannot be used "
     "when target_modules is a string (PEFT LoraConfig)"),
    ('adapter_config.json: layers_to_transform read differently by PEFT versions', with_adapter("adapter_layers_by_version"),
     1, "lorahub compose: error: adapter_layers_by_version/adapter_config.json: field 'layers_to_transform': module "
     "'encoder.block.1.layer.0.SelfAttention.q' is in layer 1 (the number after 'block') under PEFT 0.7.1's rule (no "
     "layers_pattern: the first of layers, h, block, blocks, layer) but in layer 0 (the number after 'layer') under "
     "newer PEFT's (the last '.<name>.<n>.'), so [1] would wrap it in one and not the other; give layers_pattern "
     "(\"block\" for the layers PEFT 0.7.1 reads, \"layer\" for those newer PEFT reads)"),
    ('adapter_config.json: layers_to_transform empty', with_adapter("adapter_layers_empty"), 1,
     "lorahub compose: error: adapter_layers_empty/adapter_config.json: field 'layers_to_transform': an empty list: "
     "PEFT 0.7.1 then wraps no module (and raises), newer PEFT every layer; give null for every layer, or the layers to "
     "adapt"),
    ('adapter_config.json: layers_pattern with a group', with_adapter("adapter_layers_pattern_group"), 1,
     "lorahub compose: error: adapter_layers_pattern_group/adapter_config.json: field 'layers_pattern': '(block)' has a "
     "capturing group, which PEFT would read as the layer number; use (?:...)"),
    ('adapter_config.json: target_modules regex with \\Z', with_adapter("adapter_regex_end_z"), 1,
     "lorahub compose: error: adapter_regex_end_z/adapter_config.json: field 'target_modules': '.*\\.(q|v)\\Z' uses "
     "'\\Z' (character 10): Python's re (PEFT) reads the end of the name, std::regex the letter 'Z'; write '$'"),
    ('adapter_config.json: target_modules regex with a POSIX class', with_adapter("adapter_regex_posix"), 1,
     "lorahub compose: error: adapter_regex_posix/adapter_config.json: field 'target_modules': '.*\\.[[:lower:]]' uses "
     "'[:' inside a class (character 6): std::regex reads a POSIX class or collating element ('[[:lower:]]'), Python's "
     "re (PEFT) the characters themselves and a ']' after the class; list the characters ('[a-z]')"),
    ('adapter_config.json: target_modules regex with {,n}', with_adapter("adapter_regex_no_min"), 1,
     "lorahub compose: error: adapter_regex_no_min/adapter_config.json: field 'target_modules': '.*\\.[qv]{,1}' uses "
     "'{,1}' (character 9): Python's re (PEFT) reads a missing lower bound as 0, std::regex refuses it; write '{0,1}'"),
    ('adapter_config.json: target_modules regex with a named group', with_adapter("adapter_regex_named"), 1,
     "lorahub compose: error: adapter_regex_named/adapter_config.json: field 'target_modules': '(?P<m>.*)\\.(q|v)' "
     "uses a named group '(?P<...' (character 1): Python only (std::regex has no named groups); use '(...)'"),
    ('adapter_config.json: target_modules regex with inline flags', with_adapter("adapter_regex_flags"), 1,
     "lorahub compose: error: adapter_regex_flags/adapter_config.json: field 'target_modules': '(?i).*\\.(Q|V)' uses "
     "inline flags '(?i)...' (character 1): Python only (std::regex has no inline flags); write the characters out "
     "(e.g. '[qQ]' for a case-insensitive 'q')"),
    ('adapter_config.json: alpha_pattern key with \\Z', with_adapter("adapter_alpha_key_z"), 1,
     "lorahub compose: error: adapter_alpha_key_z/adapter_config.json: field 'alpha_pattern': 'q\\Z' uses '\\Z' "
     "(character 2): Python's re (PEFT) reads the end of the name, std::regex the letter 'Z'; write '$'"),
    ('adapter_model.safetensors: keys with the adapter name (state_dict dump)', with_adapter("adapter_named_keys"), 1,
     "lorahub compose: error: adapter_named_keys/adapter_model.safetensors: tensor "
     "'base_model.model.decoder.block.0.layer.0.SelfAttention.q.lora_A.default.weight' holds an adapter name (a "
     "PeftModel.state_dict() dump): PEFT's loader reads no weight from it and gives the base model; write the adapter "
     "with PeftModel.save_pretrained (keys base_model.model.<module>.lora_A.weight)"),
    ('adapter_config.json: init_lora_weights pissa', with_adapter("adapter_pissa"), 1,
     "lorahub compose: error: adapter_pissa/adapter_config.json: field 'init_lora_weights': \"pissa\" changed the base "
     "weights at initialisation, so the adapter needs that base; convert it to plain LoRA (PEFT save_pretrained with "
     "path_initial_model_for_weight_conversion)"),
    ('adapter_config.json: bias', with_adapter("adapter_bias"), 1,
     "lorahub compose: error: adapter_bias/adapter_config.json: field 'bias': expected \"none\" (LoRA biases are not "
     "supported)"),
    ('adapter tensors: NaN', with_adapter("lora2_nan"), 1,
     f"lorahub compose: error: lora2_nan/adapter_model.safetensors: tensor '{nan_key}' holds NaN at "
     f"[{nan_at['lora2_nan']}]; weights must be finite (the file is damaged or its training diverged)"),
    ('adapter tensors: inf', with_adapter("lora2_inf"), 1,
     f"lorahub compose: error: lora2_inf/adapter_model.safetensors: tensor '{nan_key}' holds inf at "
     f"[{nan_at['lora2_inf']}]; weights must be finite (the file is damaged or its training diverged)"),
    ('learn: a NaN module among good ones', learn_with(base, [lora0, "lora2_nan"]), 1,
     f"lorahub learn: error: lora2_nan/adapter_model.safetensors: tensor '{nan_key}' holds NaN at "
     f"[{nan_at['lora2_nan']}]; weights must be finite (the file is damaged or its training diverged)"),
    ('model weights: NaN', with_model("model_nan"), 1,
     "lorahub compose: error: model_nan/model.safetensors: tensor 'encoder.final_layer_norm.weight' holds NaN at [5]; "
     "weights must be finite (the file is damaged or its training diverged)"),
    ('learn: objective never finite (huge model weights)', learn_with("model_huge", [lora0]), 1,
     "lorahub learn: error: the objective was not finite for any of the 2 candidates (NaN or inf losses: check the "
     "modules' and the model's weights)"),
    ('compose --merge: overflowing composition', with_adapter("lora_huge") + ["--merge"], 1,
     f"lorahub compose: error: the in-memory merged weights of {base} (LoRA composition): tensor "
     "'decoder.block.0.layer.0.SelfAttention.q.weight' is not finite (the composition weights or the modules overflow "
     "float32; nothing was written)"),
    ('safetensors: duplicate key', with_adapter("dup_key"), 1,
     "lorahub compose: error: dup_key/adapter_model.safetensors: invalid safetensors file: tensor "
     "'base_model.model.encoder.block.0.layer.0.SelfAttention.q.lora_A.weight' is named twice in the header (the "
     "format forbids duplicate keys)"),
    ('safetensors: gap between tensors', with_model("st_gap"), 1,
     f"lorahub compose: error: st_gap/model.safetensors: invalid safetensors file: tensor '{after_st}' starts at byte "
     f"{st_end + 4} of the data but '{first_st}' ends at {st_end} (the format allows no gap between tensors)"),
    ('safetensors: trailing bytes', with_model("st_trailing"), 1,
     "lorahub compose: error: st_trailing/model.safetensors: invalid safetensors file: 8 bytes after the last tensor "
     "(the tensors end at byte 995328 of 995336 bytes of data; the format allows none)"),
    ('tokenizer_config.json: eos_token', learn_with("tok_eos", [lora0]), 1,
     "lorahub learn: error: tok_eos/tokenizer_config.json: field 'eos_token': expected \"</s>\" (T5's ids are fixed), "
     "found \"<eos>\""),
    ('tokenizer_config.json: add_bos_token', learn_with("tok_bos", [lora0]), 1,
     "lorahub learn: error: tok_bos/tokenizer_config.json: field 'add_bos_token': T5 has no BOS token; expected false"),
    ('BBH JSON: not JSON', with_bbh("bbh_not_json"), 1,
     "lorahub eval: error: bbh_not_json/bbh/t.json: not valid JSON ([json.exception.parse_error.101] parse error at line 1, column 1: syntax error while parsing value - invalid literal; last read: 'e')"),
    ('BBH JSON: missing keys', with_bbh("bbh_missing_keys"), 1,
     "lorahub eval: error: bbh_missing_keys/bbh/t.json: field 'examples[0].target': missing"),
    ('BBH JSON: empty', with_bbh("bbh_empty"), 1,
     "lorahub eval: error: bbh_empty/bbh/t.json: field 'examples': empty list"),
    ('examples JSONL: not JSON', with_examples("examples_not_json.jsonl"), 1,
     "lorahub learn: error: examples_not_json.jsonl:2: not valid JSON ([json.exception.parse_error.101] parse error at line 1, column 2: syntax error while parsing value - invalid literal; last read: 'no')"),
    ('examples JSONL: no target', with_examples("examples_no_target.jsonl"), 1,
     "lorahub learn: error: examples_no_target.jsonl:2: field 'target': missing"),
    ('examples JSONL: empty', with_examples("examples_empty.jsonl"), 1,
     'lorahub learn: error: examples_empty.jsonl: no examples'),
    ('learn adamw: per-target without cat',
     ["learn", "--model", base, "--modules", lora0, "--examples", "examples_ok.jsonl", "--optimizer", "adamw",
      "--method", "lorahub", "--per-target", "--export", "composed", "--quiet"], 2,
     'lorahub learn: error: --per-target: needs --method cat (see lorahub learn --help)'),
    ('learn: gradient flag without adamw',
     ["learn", "--model", base, "--modules", lora0, "--examples", "examples_ok.jsonl", "--lr", "0.1", "--quiet"], 2,
     'lorahub learn: error: --lr: used by --optimizer adamw only (see lorahub learn --help)'),
    # issue 14: adapters and flags that do not fit the model's family
    ('llama: LoRA adapter with task_type SEQ_2_SEQ_LM', llama_compose("llama_lora_seq2seq"), 1,
     "lorahub compose: error: llama_lora_seq2seq/adapter_config.json: field 'task_type': expected \"CAUSAL_LM\" for a "
     "llama model, found \"SEQ_2_SEQ_LM\""),
    ('llama: a T5 adapter (tiny-t5 lora0)', llama_compose(lora0), 1,
     f"lorahub compose: error: {lora0}/adapter_config.json: field 'task_type': expected \"CAUSAL_LM\" for a llama "
     "model, found \"SEQ_2_SEQ_LM\""),
    ('t5: a Llama adapter (tiny-llama lora0)', with_adapter(llama_lora0), 1,
     f"lorahub compose: error: {llama_lora0}/adapter_config.json: field 'task_type': expected \"SEQ_2_SEQ_LM\" for a t5 "
     "model, found \"CAUSAL_LM\""),
    ('llama: LoRA target_modules named as T5\'s', llama_compose("llama_lora_t5_targets"), 1,
     "lorahub compose: error: llama_lora_t5_targets/adapter_config.json: field 'target_modules': 'q' names no "
     f"projection of the base model ({llama_hint})"),
    ('llama: IA3 adapter with task_type SEQ_2_SEQ_LM', llama_loss("llama_ia3_seq2seq"), 1,
     "lorahub loss: error: llama_ia3_seq2seq/adapter_config.json: field 'task_type': expected \"CAUSAL_LM\" for a "
     "llama model, found \"SEQ_2_SEQ_LM\""),
    ('llama: IA3 target_modules named as T5\'s', llama_loss("llama_ia3_t5_targets"), 1,
     "lorahub loss: error: llama_ia3_t5_targets/adapter_config.json: field 'target_modules': 'k' names no projection "
     f"of the base model ({llama_hint})"),
    ('llama: IA3 feedforward_modules not within target_modules', llama_loss("llama_ia3_feedforward"), 1,
     "lorahub loss: error: llama_ia3_feedforward/adapter_config.json: field 'feedforward_modules': 'up_proj' is not in "
     "target_modules (PEFT: feedforward_modules should be a subset of target_modules)"),
    ('llama: train-lora --targets named as T5\'s',
     ["train-lora", "--model", llama_base, "--data", "llama_examples.jsonl", "--out", "composed", "--targets", "q,v"], 2,
     f"lorahub train-lora: error: --targets: 'q' names no projection of the model ({llama_hint}) (see lorahub "
     "train-lora --help)"),
    ('YAML: stop_strings not a list', ["run", "yaml_stop_scalar.yaml", "--output", "results.h5", "--resume"], 1,
     "lorahub run: error: yaml_stop_scalar.yaml:23: 'evaluation.stop_strings': expected a list of strings ([] for none)"),
    ('YAML: syntax', ["run", "yaml_syntax.yaml", "--output", "results.h5", "--resume"], 1,
     'lorahub run: error: yaml_syntax.yaml:14: not valid YAML (end of sequence flow not found)'),
    ('YAML: unknown key', ["run", "yaml_unknown_key.yaml", "--output", "results.h5", "--resume"], 1,
     "lorahub run: error: yaml_unknown_key.yaml:14: 'sweep.seed_list': unknown key (expected one of: methods, n_modules, n_shots, seeds)"),
    ('YAML: wrong type', ["run", "yaml_bad_type.yaml", "--output", "results.h5", "--resume"], 1,
     "lorahub run: error: yaml_bad_type.yaml:15: 'sweep.n_shots': expected an integer, found 'five'"),
    ('results: another config on --resume', ["run", "yaml_other.yaml", "--output", "results.h5", "--resume"], 1,
     'lorahub run: error: results.h5: written by another config (hash <h1>, this config <h2>); resume with the same config or choose another --output'),
    ('YAML: merge of modules of different rank', ["run", "rank_ties.yaml", "--output", "rank.h5"], 1,
     "lorahub run: error: rank_ties.yaml:14: 'sweep.methods.merge_method': ties needs modules of equal rank: "
     "'lora_r2' has r = 2 but 'lora0' has r = 4 (cat and the svd methods accept different ranks)"),
    ('results: exists without --resume', ["run", "sweep.yaml", "--output", "results.h5"], 1,
     'lorahub run: error: results.h5: results file exists; pass --resume to continue it or choose another --output'),
]



def run_yaml(name):
    return ["run", name + ".yaml", "--output", "results.h5", "--resume"]


learn_ok = ["learn", "--model", base, "--modules", lora0, "--examples", "shots.jsonl", "--quiet"]
damage = "; writing there would damage it: choose an output outside the inputs"
cases += [
    # 1: an output that is, lies inside or contains an input: refused before anything is loaded or written
    ('output: --out is the model', ["compose", "--model", "model_copy", "--modules", lora0, "--weights=1", "--out",
                                    "model_copy", "--merge"], 2,
     f"lorahub compose: error: --out: 'model_copy' is the input --model 'model_copy'{damage} (see lorahub compose --help)"),
    ('output: --out is a module', ["compose", "--model", base, "--modules", "adapter_copy", "--weights=0.5", "--out",
                                   "adapter_copy"], 2,
     f"lorahub compose: error: --out: 'adapter_copy' is the input --modules 'adapter_copy'{damage} (see lorahub compose "
     "--help)"),
    ('output: --out inside the model', ["compose", "--model", "model_copy", "--modules", lora0, "--weights=1", "--out",
                                        "model_copy/merged", "--merge"], 2,
     f"lorahub compose: error: --out: 'model_copy/merged' lies inside the input --model 'model_copy'{damage} (see "
     "lorahub compose --help)"),
    ('output: --out contains a module', ["compose", "--model", base, "--modules", "adapter_copy", "--weights=0.5",
                                         "--out", "."], 2,
     f"lorahub compose: error: --out: '.' contains the input --modules 'adapter_copy'{damage} (see lorahub compose --help)"),
    ('output: learn --export over a module', ["learn", "--model", base, "--modules", "adapter_copy", lora0, "--examples",
                                              "shots.jsonl", "--budget", "2", "--export", "adapter_copy/", "--quiet"], 2,
     f"lorahub learn: error: --export: 'adapter_copy/' is the input --modules 'adapter_copy'{damage} (see lorahub "
     "learn --help)"),
    ('output: learn --history over the examples', learn_ok + ["--history", "./shots.jsonl"], 2,
     f"lorahub learn: error: --history: './shots.jsonl' is the input --examples 'shots.jsonl'{damage} (see lorahub "
     "learn --help)"),
    ('output: train-lora --out is the model', ["train-lora", "--model", "model_copy", "--data", "shots.jsonl", "--out",
                                               "model_copy", "--mode", "full", "--steps", "1"], 2,
     f"lorahub train-lora: error: --out: 'model_copy' is the input --model 'model_copy'{damage} (see lorahub "
     "train-lora --help)"),
    ('output: eval --predictions inside the model', ["eval", "--model", "model_copy", "--bbh", "bbh_empty", "--tasks", "t",
                                                     "--predictions", "model_copy/config.json"], 2,
     f"lorahub eval: error: --predictions: 'model_copy/config.json' lies inside the input --model 'model_copy'{damage} "
     "(see lorahub eval --help)"),
    ('output: run --output is the config', ["run", "sweep.yaml", "--output", "sweep.yaml"], 1,
     f"lorahub run: error: --output: 'sweep.yaml' is the input config 'sweep.yaml'{damage}"),
    ('YAML: output empty', run_yaml("yaml_output_empty"), 1,
     "lorahub run: error: yaml_output_empty.yaml:29: 'output': expected a file path, found ''"),
    # 3-4 are unit tests (lora_tests LoraPool.*); 2: peft_export_test MergeMethodExportsReloadWithTheirTargets
    # 5, 13: one finite-number rule for every floating-point flag, --weights and YAML number
    ('flags: --weights NaN', ["compose", "--model", base, "--modules", lora0, lora1, "--weights=nan,1", "--out",
                              "composed"], 2,
     "lorahub compose: error: --weights: expected finite numbers, found nan (see lorahub compose --help)"),
    ('flags: --weights overflow', ["loss", "--model", base, "--modules", lora0, lora1, "--weights=1,1e999", "--examples",
                                   "shots.jsonl"], 2,
     "lorahub loss: error: --weights: expected finite numbers, found 1e999 (see lorahub loss --help)"),
    ('loss --merged: composition overflows', ["loss", "--model", base, "--modules", lora0, lora1, "--weights=1e30,1e30",
                                              "--merged", "--examples", "shots.jsonl"], 1,
     f"lorahub loss: error: the in-memory merged weights of {base} (LoRA composition): tensor "
     "'decoder.block.0.layer.0.SelfAttention.q.weight' is not finite (the composition weights or the modules overflow "
     "float32; nothing was written)"),
    ('flags: --bound inf', learn_ok + ["--bound", "inf"], 2,
     "lorahub learn: error: --bound: expected a finite number, found inf (see lorahub learn --help)"),
    ('flags: --l1 nan', learn_ok + ["--l1", "nan"], 2,
     "lorahub learn: error: --l1: expected a finite number, found nan (see lorahub learn --help)"),
    ('YAML: l1 .nan', run_yaml("yaml_l1_nan"), 1,
     "lorahub run: error: yaml_l1_nan.yaml:21: 'sweep.methods.l1': expected a finite number, found '.nan'"),
    ('YAML: bound .inf', run_yaml("yaml_bound_inf"), 1,
     "lorahub run: error: yaml_bound_inf.yaml:21: 'sweep.methods.bound': expected a finite number, found '.inf'"),
    # 6: a diverging training stops, nothing written
    ('train-lora: loss not finite (full)', ["train-lora", "--model", base, "--data", "shots.jsonl", "--out", "trained",
                                            "--mode", "full", "--lr", "1e30", "--steps", "5"], 1,
     "lorahub train-lora: error: train: the loss is nan at step 3 of 5 (AdamW lr 1e+30): training diverged; lower the "
     "learning rate (nothing was written)"),
    ('train-lora: loss not finite (lora)', ["train-lora", "--model", base, "--data", "shots.jsonl", "--out", "trained",
                                            "--mode", "lora", "--lr", "1e36", "--steps", "5"], 1,
     "lorahub train-lora: error: train: the loss is nan at step 3 of 5 (AdamW lr 1e+36): training diverged; lower the "
     "learning rate (nothing was written)"),
    ('learn adamw: loss not finite', ["learn", "--model", base, "--modules", lora0, lora1, "--examples", "shots.jsonl",
                                      "--optimizer", "adamw", "--lr", "1e30", "--steps", "5", "--export", "trained",
                                      "--quiet"], 1,
     "lorahub learn: error: gradient weights: the loss is nan at step 2 of 5 (AdamW lr 1e+30): training diverged; lower "
     "the learning rate (nothing was written)"),
    # 10: integer weights
    ('model weights: integer dtype', with_model("st_int"), 1,
     "lorahub compose: error: st_int/model.safetensors: tensor 'shared.weight' has dtype Int, expected a "
     "floating-point dtype (F32, F16, BF16 or F64)"),
    # 11-12, 15: YAML keys twice, a second document, fields a method does not use, lists with repeats
    ('YAML: duplicate key', run_yaml("yaml_dup_key"), 1,
     "lorahub run: error: yaml_dup_key.yaml:21: 'sweep.methods.budget': duplicate key (first given at line 20)"),
    ('YAML: duplicate top-level key', run_yaml("yaml_dup_top"), 1,
     "lorahub run: error: yaml_dup_top.yaml:31: 'output': duplicate key (first given at line 29)"),
    ('YAML: second document', run_yaml("yaml_two_docs"), 1,
     "lorahub run: error: yaml_two_docs.yaml:32: a second YAML document (after '---'); a config is one document"),
    ('YAML: field zero_shot does not use', run_yaml("yaml_unused_field"), 1,
     "lorahub run: error: yaml_unused_field.yaml:17: 'sweep.methods.budget': not used by method zero_shot"),
    ('YAML: lr on lorahub', run_yaml("yaml_lorahub_lr"), 1,
     "lorahub run: error: yaml_lorahub_lr.yaml:21: 'sweep.methods.lr': not used by method lorahub"),
    ('YAML: population without cmaes', run_yaml("yaml_population"), 1,
     "lorahub run: error: yaml_population.yaml:21: 'sweep.methods.population': used by optimizer cmaes only (this "
     "method: cobyla)"),
    ('YAML: seed twice', run_yaml("yaml_seeds_dup"), 1,
     "lorahub run: error: yaml_seeds_dup.yaml:13: 'sweep.seeds': 1 is listed twice"),
    ('YAML: module id twice', run_yaml("yaml_ids_dup"), 1,
     "lorahub run: error: yaml_ids_dup.yaml:7: 'modules.ids': 'lora0' is listed twice"),
    ('YAML: task twice', run_yaml("yaml_tasks_dup"), 1,
     "lorahub run: error: yaml_tasks_dup.yaml:10: 'bbh.tasks': 'navigate' is listed twice"),
    ('YAML: null value', run_yaml("yaml_null"), 1,
     "lorahub run: error: yaml_null.yaml:11: 'bbh.max_eval': expected an integer, found null"),
    # 16: IA3 configs under the rules of LoRA configs
    ('IA3: modules_to_save', ["loss", "--model", base, "--adapter", "ia3_modules_to_save", "--examples", "shots.jsonl"],
     1, "lorahub loss: error: ia3_modules_to_save/adapter_config.json: field 'modules_to_save': not supported; "
        'expected null, found ["lm_head"]'),
    ('IA3: tensor of a module not targeted', ["loss", "--model", base, "--adapter", "ia3_not_targeted", "--examples",
                                              "shots.jsonl"], 1,
     "lorahub loss: error: ia3_not_targeted/adapter_model.safetensors: tensor "
     "'base_model.model.decoder.block.0.layer.2.DenseReluDense.wo.ia3_l': 'decoder.block.0.layer.2.DenseReluDense.wo' "
     "is not named by target_modules in ia3_not_targeted/adapter_config.json"),
    ('adapter_config.json: bias null', with_adapter("adapter_bias_null"), 1,
     "lorahub compose: error: adapter_bias_null/adapter_config.json: field 'bias': expected \"none\", found null (PEFT "
     "raises for it)"),
    ('adapter_config.json: alpha_pattern read differently by PEFT versions', with_adapter("adapter_alpha_by_version"), 1,
     "lorahub compose: error: adapter_alpha_by_version/adapter_config.json: field 'alpha_pattern': key 'decoder.*' does "
     "not match module 'decoder.block.0.layer.0.SelfAttention.q' under PEFT 0.7's rule re.match(r'.*\\.<key>$') but "
     "does under newer PEFT's re.match(r'(.*\\.)?(<key>)$'): its scale would depend on the PEFT version; give a key "
     "both rules read alike (a dotted suffix of the module names)"),
    # 8-9: T5 tokenizer files
    ('special_tokens_map.json: eos_token', learn_with("tok_map_eos", [lora0]), 1,
     "lorahub learn: error: tok_map_eos/special_tokens_map.json: field 'eos_token': expected \"</s>\" (T5's ids are "
     "fixed), found \"<eos>\""),
    ('tokenizer_config.json: extra_ids past the vocabulary', learn_with("tok_extra_ids", [lora0]), 1,
     "lorahub learn: error: tok_extra_ids/tokenizer_config.json: field 'extra_ids': 100 sentinels after the 400 pieces "
     "of spiece.model need a vocabulary of 500 ids, but config.json's vocab_size is 400"),
    ('safetensors: header padded with NUL', with_model("st_nul_pad"), 1,
     f"lorahub compose: error: st_nul_pad/model.safetensors: invalid safetensors file: header holds a NUL byte at "
     f"offset {len(nul_header)} (the header is JSON, padded with spaces only)"),
    ('examples JSONL: null input', with_examples("examples_null_input.jsonl"), 1,
     "lorahub learn: error: examples_null_input.jsonl:2: field 'input': expected a value, found null"),
    ('YAML: negative flush interval', run_yaml("yaml_flush_negative"), 1,
     "lorahub run: error: yaml_flush_negative.yaml:30: 'flush_interval_s': expected 0 (every trial) or a positive "
     "number of seconds"),
    ('tokenizer_config.json: another tokenizer class', learn_with("tok_class", [lora0]), 1,
     "lorahub learn: error: tok_class/tokenizer_config.json: field 'tokenizer_class': expected \"T5Tokenizer\" or "
     "\"T5TokenizerFast\" for a T5 model, found \"LlamaTokenizer\""),
    # 17: integer flags checked at parse, naming the flag
    ('flags: --max-new-tokens', learn_ok + ["--max-new-tokens", "-1", "--eval", "examples_ok.jsonl"], 2,
     "lorahub learn: error: --max-new-tokens: expected an integer >= 1, found -1 (see lorahub learn --help)"),
    ('flags: --candidates-per-pass', learn_ok + ["--candidates-per-pass", "0"], 2,
     "lorahub learn: error: --candidates-per-pass: expected an integer >= 1, found 0 (see lorahub learn --help)"),
    ('flags: --loss-batch-size', learn_ok + ["--loss-batch-size", "-1"], 2,
     "lorahub learn: error: --loss-batch-size: expected an integer >= 0, found -1 (see lorahub learn --help)"),
    ('flags: --budget', learn_ok + ["--budget", "0"], 2,
     "lorahub learn: error: --budget: expected an integer >= 1, found 0 (see lorahub learn --help)"),
    ('flags: --population 1', learn_ok + ["--optimizer", "cmaes", "--population", "1"], 2,
     "lorahub learn: error: --population: expected 0 (4 + 3 ln N) or at least 2, found 1 (see lorahub learn --help)"),
    ('flags: --population negative', learn_ok + ["--optimizer", "cmaes", "--population", "-5"], 2,
     "lorahub learn: error: --population: expected an integer >= 0, found -5 (see lorahub learn --help)"),
    ('flags: --population without cmaes', learn_ok + ["--optimizer", "random", "--population", "3"], 2,
     "lorahub learn: error: --population: used by --optimizer cmaes only (see lorahub learn --help)"),
    ('flags: eval --max-eval', ["eval", "--model", base, "--bbh", "bbh_empty", "--tasks", "t", "--max-eval", "-2"], 2,
     "lorahub eval: error: --max-eval: expected an integer >= 0, found -2 (see lorahub eval --help)"),
]

# ---- issue 16, third round (break16b) -------------------------------------------
not_finite = "the model's weights or config, or its adapter or composition, give non-finite numbers"
bbh_dir = os.path.join(shared, "data", "bbh")
own_path = "; give each output a path of its own, outside the others"
cases += [
    # F3: real-valued config.json settings under one rule; non-finite results are errors, never null or ""
    ('config.json: layer_norm_epsilon negative', with_model("config_eps_negative"), 1,
     "lorahub compose: error: config_eps_negative/config.json: field 'layer_norm_epsilon': expected a finite number "
     "> 0, found -1.0"),
    ('config.json: rms_norm_eps zero (Llama)', llama_compose(llama_lora0, model="llama_eps_zero"), 1,
     "lorahub compose: error: llama_eps_zero/config.json: field 'rms_norm_eps': expected a finite number > 0, found 0"),
    ('loss: NaN losses (huge model weights)', ["loss", "--model", "model_huge", "--examples", "shots.jsonl"], 1,
     f"lorahub loss: error: batch_loss is nan (6 of 6 examples have a non-finite loss): {not_finite}"),
    ('loss: NaN losses (adapter scale 1e20, Llama)', llama_loss("llama_alpha_1e20"), 1,
     f"lorahub loss: error: batch_loss is nan (1 of 1 examples have a non-finite loss): {not_finite}"),
    ('loss: NaN losses (--weights 1e20 at run time)', ["loss", "--model", base, "--modules", lora0, lora1,
                                                       "--weights=1e20,1e20", "--examples", "shots.jsonl"], 1,
     f"lorahub loss: error: batch_loss is nan (6 of 6 examples have a non-finite loss): {not_finite}"),
    ('generate: logits not finite', ["generate", "--model", "model_huge", "--input", "Q: not True is A:"], 1,
     f"lorahub generate: error: generate: the logits are not finite (NaN or inf): {not_finite} (no prediction is "
     "made)"),
    ('eval: logits not finite (earlier predictions kept)', ["eval", "--model", "model_huge", "--bbh", bbh_dir,
                                                           "--tasks", "navigate", "--max-eval", "2",
                                                           "--predictions", preds], 1,
     f"lorahub eval: error: generate: the logits are not finite (NaN or inf): {not_finite} (no prediction is made)"),
    # F7: messages that name the cause
    ('adapter_config.json: lora_alpha past float32', with_adapter("adapter_alpha_1e300"), 1,
     "lorahub compose: error: adapter_alpha_1e300/adapter_config.json: field 'lora_alpha': the effective scale "
     "lora_alpha / r = 2.5e+299 is not representable in float32 (|scale| <= 3.40282e+38)"),
    ('train-lora: loss not finite before any update', ["train-lora", "--model", "model_huge", "--data", "shots.jsonl",
                                                       "--out", "trained", "--steps", "2"], 1,
     "lorahub train-lora: error: train: the loss is nan before any update (step 1 of 2): the model's weights or "
     "config, its adapters or modules, or the data give non-finite numbers (nothing was written)"),
    ('learn adamw: loss not finite before any update', ["learn", "--model", "model_huge", "--modules", lora0, lora1,
                                                        "--examples", "shots.jsonl", "--optimizer", "adamw", "--steps",
                                                        "2", "--export", "trained", "--quiet"], 1,
     "lorahub learn: error: gradient weights: the loss is nan before any update (step 1 of 2): the model's weights or "
     "config, its adapters or modules, or the data give non-finite numbers (nothing was written)"),
    ('YAML: l1 past a double', run_yaml("yaml_l1_overflow"), 1,
     "lorahub run: error: yaml_l1_overflow.yaml:21: 'sweep.methods.l1': expected a finite number, found '1e400' (out "
     "of range)"),
    # F5: every output checked before any work: where it goes, and apart from the other outputs
    ('output: learn --history in a missing directory', learn_ok + ["--history", "nodir/h.json"], 2,
     "lorahub learn: error: --history: 'nodir/h.json': directory 'nodir' does not exist (see lorahub learn --help)"),
    ('output: learn --history under a file', learn_ok + ["--history", "plain_file/h.json"], 2,
     "lorahub learn: error: --history: 'plain_file/h.json': 'plain_file' is not a directory (see lorahub learn --help)"),
    ('output: learn --weights-out in a missing directory', learn_ok + ["--optimizer", "adamw", "--weights-out",
                                                                       "nodir/w.json"], 2,
     "lorahub learn: error: --weights-out: 'nodir/w.json': directory 'nodir' does not exist (see lorahub learn "
     "--help)"),
    ('output: learn --history inside --export', learn_ok + ["--export", "E", "--history", "E/h.json"], 2,
     f"lorahub learn: error: --history: 'E/h.json' lies inside the output --export 'E'{own_path} (see lorahub learn "
     "--help)"),
    ('output: learn --history is --export', learn_ok + ["--export", "E2", "--history", "E2"], 2,
     f"lorahub learn: error: --history: 'E2' is the output --export 'E2'{own_path} (see lorahub learn --help)"),
    ('output: compose --out is a file', compose[:-1] + ["plain_file"], 2,
     "lorahub compose: error: --out: 'plain_file' is a file, expected a directory (see lorahub compose --help)"),
    ('output: train-lora --out under a file', ["train-lora", "--model", base, "--data", "shots.jsonl", "--out",
                                               "plain_file/adapter", "--steps", "1"], 2,
     "lorahub train-lora: error: --out: 'plain_file/adapter': 'plain_file' is not a directory (see lorahub train-lora "
     "--help)"),
    ('output: eval --predictions in a missing directory', ["eval", "--model", base, "--bbh", "bbh_empty", "--tasks",
                                                           "t", "--predictions", "nodir/p.jsonl"], 2,
     "lorahub eval: error: --predictions: 'nodir/p.jsonl': directory 'nodir' does not exist (see lorahub eval "
     "--help)"),
    ('output: eval --predictions is a directory', ["eval", "--model", base, "--bbh", "bbh_empty", "--tasks", "t",
                                                   "--predictions", "composed"], 2,
     "lorahub eval: error: --predictions: 'composed' is a directory, expected a file (see lorahub eval --help)"),
    ('output: run --output in a missing directory', ["run", "sweep.yaml", "--output", "nodir/r.h5"], 1,
     "lorahub run: error: --output: 'nodir/r.h5': directory 'nodir' does not exist"),
]

# ---- issue 16, fourth round (break16c) ----------------------------------------
cases += [
    ('config.json: tie_word_embeddings over a different stored head', with_model("model_tied_own_head"), 1,
     "lorahub compose: error: model_tied_own_head/config.json: field 'tie_word_embeddings' is true, but "
     "model_tied_own_head/model.safetensors holds its own 'lm_head.weight', which differs from 'shared.weight' "
     "(transformers would load one into the other, silently); set it to false (the head is its own tensor) or "
     "remove the stored head"),
    ('adapter_config.json: init_lora_weights unknown', with_adapter("adapter_init_bogus"), 1,
     "lorahub compose: error: adapter_init_bogus/adapter_config.json: field 'init_lora_weights': expected true, "
     "false, \"gaussian\", \"eva\" or \"orthogonal\" (initialisations that leave the base model as it is), found "
     "\"bogus\" (PEFT: unknown initialization)"),
    ('adapter_model.safetensors: a field twice in one entry', with_adapter("adapter_dup_field"), 1,
     f"lorahub compose: error: adapter_dup_field/adapter_model.safetensors: invalid safetensors file: tensor "
     f"'{dup_tensor}': field 'dtype' is given twice in its entry (the format's reader refuses duplicate fields)"),
    ('JSONL: target and output on one line', with_examples("shots_target_output.jsonl"), 1,
     "lorahub learn: error: shots_target_output.jsonl:1: field 'output': given with 'target' on the same line; "
     "expected one of them (the target is 'target', or 'output' when there is no 'target')"),
    ('YAML: integer with a leading zero', run_yaml("yaml_leading_zero"), 1,
     "lorahub run: error: yaml_leading_zero.yaml:13: 'sweep.seeds': '010' has a leading zero: YAML 1.2 reads it as "
     "10, YAML 1.1 as 8 (octal); write it without the leading zero"),
    ('YAML: merge key', run_yaml("yaml_merge_key"), 1,
     "lorahub run: error: yaml_merge_key.yaml:20: 'sweep.methods.<<': YAML merge keys ('<<: *anchor') are not "
     "supported; write the keys out (anchors and aliases of whole values work)"),
    ('run: results file held by another run', ["run", "sweep.yaml", "--output", "held.h5"], 1,
     "lorahub run: error: held.h5: in use by another run (held.h5.lock: host other-host, pid 1, job -); wait for it "
     "to end, or remove held.h5.lock if that run no longer exists"),
    ('run: a directory where the journal goes', ["run", "sweep.yaml", "--output", "jdir.h5"], 1,
     "lorahub run: error: --output's journal: 'jdir.h5.journal' is a directory, expected a file"),
    ('YAML: module ids that give one trial id', run_yaml("yaml_collide"), 1,
     "lorahub run: error: yaml_collide.yaml: two trials get the id 'boolean_expressions.single-org_lora0.s1.n1.k3' "
     "(method 'single' with module 'org/lora0'; method 'single' with module 'org_lora0'): labels and module ids must "
     "stay distinct with '.', '/' and ' ' read as '_'"),
    ('plan: module ids that give one trial id', ["plan", "yaml_collide.yaml"], 1,
     "lorahub plan: error: yaml_collide.yaml: two trials get the id 'boolean_expressions.single-org_lora0.s1.n1.k3' "
     "(method 'single' with module 'org/lora0'; method 'single' with module 'org_lora0'): labels and module ids must "
     "stay distinct with '.', '/' and ' ' read as '_'"),
    ('YAML: module ids that name one directory', run_yaml("yaml_same_dir"), 1,
     "lorahub run: error: yaml_same_dir.yaml:6: 'modules': module ids 'lora1' and './lora1/' name one directory"),
    ('YAML: a task with no examples left to evaluate', run_yaml("yaml_small_task"), 1,
     "lorahub run: error: yaml_small_task.yaml: sweep.n_shots 5 leaves no evaluation examples of task 't' "
     "(5 examples in bbh_small/bbh/t.json)"),
]

# ---- issue 16, fifth round (break16d) -------------------------------------------
greedy_only = "is not implemented (lorahub decodes greedily, as generate(num_beams=1, do_sample=False), ending rows at eos_token_id)"
tiny_density = ("expected a number in (0, 1] whose reciprocal is finite in float32 (DARE rescales by 1/density): at "
                "least 2.93874e-39, found 1e-320")
cases += [
    # F1: generation settings that change greedy outputs, in generation_config.json or config.json
    ('run: a model refused at load, before the results file', ["run", "yaml_gen_model.yaml", "--output", "gen.h5"], 1,
     f"lorahub run: error: gen_ngram/generation_config.json: field 'no_repeat_ngram_size': n-gram blocking "
     f"{greedy_only}; expected 0, found 2"),
    ('generation_config.json: no_repeat_ngram_size', ["generate", "--model", "gen_ngram", "--input", "Q: a"], 1,
     f"lorahub generate: error: gen_ngram/generation_config.json: field 'no_repeat_ngram_size': n-gram blocking "
     f"{greedy_only}; expected 0, found 2"),
    ('generation_config.json: num_beams (Llama)', ["generate", "--model", "llama_gen_beams", "--input", "Q: a"], 1,
     f"lorahub generate: error: llama_gen_beams/generation_config.json: field 'num_beams': beam search {greedy_only}; "
     "expected 1 (or null), found 4"),
    ('config.json: a generation field (num_beams)', ["generate", "--model", "cfg_beams", "--input", "Q: a"], 1,
     f"lorahub generate: error: cfg_beams/config.json: field 'num_beams': beam search {greedy_only}; expected 1 (or "
     "null), found 4"),
    ('generation_config.json: no decoder start', ["generate", "--model", "gen_no_start", "--input", "Q: a"], 1,
     "lorahub generate: error: gen_no_start/generation_config.json: neither decoder_start_token_id nor bos_token_id is "
     "set, so the decoder has no first token (transformers' generate raises too); give decoder_start_token_id (T5: 0, "
     "the pad token)"),
    # F2: T5 feed-forward settings
    ('config.json: dense_act_fn unknown', with_model("cfg_act_bogus"), 1,
     "lorahub compose: error: cfg_act_bogus/config.json: field 'dense_act_fn': expected an activation of "
     "transformers' ACT2FN (relu, gelu, gelu_python, gelu_new, gelu_pytorch_tanh, gelu_fast, gelu_accurate, silu, "
     "swish, quick_gelu, relu2, relu6, leaky_relu, sigmoid, tanh, linear, mish, gelu_10, laplace), found "
     "\"gelu_bogus\""),
    ('config.json: is_gated_act against the weights', with_model("cfg_not_gated"), 1,
     "lorahub compose: error: cfg_not_gated/config.json: field 'is_gated_act': false builds a non-gated feed-forward "
     "('wi'), but cfg_not_gated/model.safetensors holds 'encoder.block.0.layer.1.DenseReluDense.wi_0.weight' of a "
     "gated one (transformers would initialise 'wi' at random); expected true"),
    ('config.json: relative_attention_max_distance within the exact buckets', with_model("cfg_rmd8"), 1,
     "lorahub compose: error: cfg_rmd8/config.json: field 'relative_attention_max_distance': expected more than "
     "relative_attention_num_buckets / 2 = 16 (the decoder's exact buckets: the log-spaced ones divide by "
     "log(max_distance / 16), which must be > 0), found 8"),
    # F3: a special token of the Llama tokenizer outside the vocabulary
    ('tokenizer_config.json: cls_token not in the vocabulary (Llama)',
     ["loss", "--model", "llama_cls_true", "--examples", "llama_examples.jsonl"], 1,
     "lorahub loss: error: llama_cls_true/tokenizer_config.json: field 'cls_token': 'True' is neither a piece of "
     "tokenizer.model nor in added_tokens_decoder"),
    # F7: what nlohmann accepts and the format's reader (serde_json) refuses
    ('safetensors: header with a byte-order mark', with_adapter("st_bom"), 1,
     "lorahub compose: error: st_bom/adapter_model.safetensors: invalid safetensors file: header starts with a UTF-8 "
     "byte-order mark (the format's reader refuses it)"),
    ('safetensors: header nested past serde_json\'s limit', with_model("st_deep"), 1,
     "lorahub compose: error: st_deep/model.safetensors: invalid safetensors file: header nests arrays and objects "
     "128 levels deep (the format's reader, serde_json, allows at most 127)"),
    # F9: one density rule for the flag and the YAML key
    ('merge: DARE density whose reciprocal overflows float32', with_method("--method", "dare_linear", "--density",
                                                                         "1e-320"), 2,
     f"lorahub compose: error: --density: {tiny_density} (see lorahub compose --help)"),
    ('YAML: DARE density whose reciprocal overflows float32', run_yaml("yaml_density_tiny"), 1,
     f"lorahub run: error: yaml_density_tiny.yaml:18: 'sweep.methods.density': {tiny_density}"),
    # minor: the weight decay named when AdamW diverges; PEFT 0.2's MergedLinear; YAML text
    ('learn adamw: weight decay diverges', ["learn", "--model", base, "--modules", lora0, lora1, "--examples",
                                            "shots.jsonl", "--optimizer", "adamw", "--weight-decay", "1e30", "--steps",
                                            "5", "--export", "trained", "--quiet"], 1,
     "lorahub learn: error: gradient weights: the loss is nan at step 2 of 5 (AdamW lr 0.01, weight decay 1e+30): "
     "training diverged; lower the learning rate or the weight decay (each step scales the weights by 1 - lr x weight "
     "decay = -1e+28) (nothing was written)"),
    ('adapter_config.json: enable_lora (PEFT 0.2 MergedLinear)', with_adapter("adapter_enable_lora"), 1,
     "lorahub compose: error: adapter_enable_lora/adapter_config.json: field 'enable_lora': PEFT 0.2's MergedLinear "
     "(one fused projection, LoRA on some of its outputs) is not supported; expected null, found [true,false,true]"),
    ('YAML: two byte-order marks', ["run", "yaml_two_boms.yaml", "--output", "results.h5", "--resume"], 1,
     "lorahub run: error: yaml_two_boms.yaml: starts with two UTF-8 byte-order marks (a text file may start with one)"),
    ('YAML: a path ending in a carriage return', ["run", "yaml_output_cr.yaml"], 1,
     "lorahub run: error: yaml_output_cr.yaml:29: 'output': expected a file path without control characters, found "
     "'fixture-results.h5\\r'"),
]


def normalize_hashes(lines):
    """Config hashes cover the resolved model and data paths, so they depend on
    where the checkout lives: replace them by <h1>, <h2>, ... in order of
    appearance, and refuse a line whose two hashes are equal."""
    out = []
    for text in lines:
        found = re.findall(r"\b[0-9a-f]{16}\b", text)
        if len(set(found)) != len(found):
            return [text + "  <- equal hashes>"]
        for i, h in enumerate(found, 1):
            text = text.replace(h, f"<h{i}>")
        out.append(text)
    return out


def snapshot():
    state = {}
    for root, _, files in os.walk(work):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                state[os.path.relpath(path, work)] = hashlib.sha256(f.read()).hexdigest()
    return state


before = snapshot()
failures = []
print_all = "--print" in sys.argv
for kind, args, code, line in cases:
    r = run(args)
    lines = r.stderr.strip().splitlines()
    problems = []
    if r.returncode != code:
        problems.append(f"exit code {r.returncode}, expected {code}")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr")
    if line is not None and (normalize_hashes(lines[:1]) != [line]):
        problems.append(f"line {lines[:1]}, expected {[line]}")
    after = snapshot()
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        problems.append(f"files changed: {changed}")
        before = after
    if problems or print_all:
        print(f"{kind}: rc {r.returncode}: {r.stderr.strip()}")
    if problems:
        failures.append(kind)
        print("  FAIL: " + "; ".join(problems))
learn_lf = ["learn", "--model", base, "--modules", lora0, "--examples", "shots.jsonl", "--budget", "3", "--quiet"]
learn_crlf = ["learn", "--model", base, "--modules-file", "modules_crlf_bom.txt", "--examples", "shots_crlf_bom.jsonl",
              "--budget", "3", "--quiet"]
lf, crlf = run(learn_lf), run(learn_crlf)
if crlf.returncode != 0 or lf.stdout.replace(lora0, "M") != crlf.stdout.replace(lora0, "M"):
    failures.append("CRLF + BOM text inputs")
    print(f"CRLF + BOM text inputs: rc {crlf.returncode}: {crlf.stderr.strip()}\n  LF: {lf.stdout}\n  CRLF: {crlf.stdout}")
if failures:
    sys.exit(f"{len(failures)} of {len(cases)} cases failed")
print(f"all {len(cases)} bad inputs refused with the expected line and exit code; no output touched")
