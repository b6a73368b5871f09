"""Model files whose settings transformers 4.36.2 reads, read by lorahub the same way (issue 16, break16d F1-F3).

On copies of the tiny fixtures with one setting changed, lorahub and transformers (the oracle the fixtures were made
with) must give the same outputs:
  F1 generation_config.json: greedy outputs of `lorahub generate` against transformers'
     `tokenizer.decode(model.generate(input_ids, max_new_tokens=N), skip_special_tokens=True)` (LoraHub's
     lorahub_inference call): an eos_token_id list (Llama 3 Instruct's form) for T5 and Llama, a decoder_start_token_id,
     a file saying "_from_model_config": true (generate then uses config.json), a file without eos_token_id (no EOS),
     and an eos_token_id list in a Llama config.json without generation_config.json.
  F2 T5 config.json dense_act_fn: `lorahub loss` against transformers' losses for every name of ACT2FN, and for a
     feed_forward_proj of another activation.
  F3 Llama tokenizer_config.json sep_token / cls_token / mask_token set to pieces of the vocabulary: losses.
Each case also checks that the setting changes transformers' own output (so a reader that ignored it would fail).

  python hf_inputs_test.py LORAHUB SHARED_DIR WORK_DIR    (ctest hf_inputs, with the venv's python)
"""
import json
import os
import shutil
import sys

import torch
import transformers
from transformers.activations import ACT2CLS

import hf_oracle
from hf_oracle import examples, hf_losses

LORAHUB, SHARED, WORK = sys.argv[1:4]
TOL = 1e-5  # float32 relative tolerance of the fixtures' READMEs
failures = []


def lorahub(*args):
    return hf_oracle.lorahub(LORAHUB, *args)


def report(ok, name, detail):
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    if not ok:
        failures.append(name)


def variant(src, tag, edits):
    """A copy of model directory `src` with `edits` {file: function(dict)} applied to its JSON files (a function
    returning False removes the file)."""
    d = os.path.join(WORK, tag)
    shutil.copytree(src, d, ignore=shutil.ignore_patterns("pytorch_model.bin"))
    for name, edit in edits.items():
        path = os.path.join(d, name)
        doc = json.load(open(path)) if os.path.exists(path) else {}
        if edit(doc) is False:
            os.remove(path)
        else:
            json.dump(doc, open(path, "w"))
    return d


def updated(**fields):
    return lambda doc: doc.update(fields)


def without_copy_flag(**fields):
    """A saved generation config (no "_from_model_config") with `fields` set."""
    def edit(doc):
        doc.pop("_from_model_config", None)
        doc.update(fields)
    return edit


# ---- F1: generation settings ------------------------------------------------------------------------------------

PROMPTS = ["Q: not True is A:", "Q: the beatles is what A:"]


def hf_generate(model_dir, family, n):
    """transformers' decoded outputs of PROMPTS, one generate call each (LoraHub's lorahub_inference)."""
    auto = transformers.AutoModelForSeq2SeqLM if family == "t5" else transformers.AutoModelForCausalLM
    tok_class = transformers.T5Tokenizer if family == "t5" else transformers.LlamaTokenizer
    model, tok = auto.from_pretrained(model_dir).eval(), tok_class.from_pretrained(model_dir)
    ids, texts = [], []
    for prompt in PROMPTS:
        inputs = tok(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(input_ids=inputs, max_new_tokens=n)[0].tolist()
        if family != "t5":
            out = out[inputs.shape[1]:]
        ids.append(out)
        texts.append(tok.decode(out, skip_special_tokens=True))
    return ids, texts


def lorahub_generate(model_dir, n):
    """lorahub's outputs of PROMPTS, decoded together (one batch)."""
    prompts = os.path.join(WORK, "prompts.jsonl")
    with open(prompts, "w") as f:
        for p in PROMPTS:
            f.write(json.dumps({"input": p}) + "\n")
    out = lorahub("generate", "--model", model_dir, "--input-file", prompts, "--max-new-tokens", str(n), "--no-stop")
    return [json.loads(line)["output"] for line in out.splitlines()]


def generation_cases(family, base):
    n = 12
    plain_ids, plain_texts = hf_generate(base, family, n)
    # An extra EOS: the third generated token of the first prompt (not the model's EOS), so that the list ends
    # that output early.
    first = 1 if family == "t5" else 0  # T5's output starts with the decoder start token
    extra = plain_ids[0][first + 2]
    eos = 1 if family == "t5" else 2
    gen = "generation_config.json"
    cases = [(f"{family}: generation_config.json eos_token_id [{eos}, {extra}]",
              variant(base, f"{family}_gen_eos", {gen: without_copy_flag(eos_token_id=[eos, extra])}), True),
             (f"{family}: generation_config.json with _from_model_config true (config.json's ids rule)",
              variant(base, f"{family}_gen_copy", {gen: updated(eos_token_id=[eos, extra])}), False),
             (f"{family}: generation_config.json without eos_token_id (no EOS)",
              variant(base, f"{family}_gen_no_eos", {gen: without_copy_flag(eos_token_id=None)}), None)]
    if family == "t5":
        cases.append(("t5: generation_config.json decoder_start_token_id 5",
                      variant(base, "t5_gen_start", {gen: without_copy_flag(decoder_start_token_id=5)}), True))
    else:
        cases.append((f"llama: config.json eos_token_id [{eos}, {extra}], no generation_config.json",
                      variant(base, "llama_cfg_eos", {"config.json": updated(eos_token_id=[eos, extra]),
                                                       gen: lambda doc: False}), True))
    for what, model_dir, changes in cases:
        ids, texts = hf_generate(model_dir, family, n)
        ours = lorahub_generate(model_dir, n)
        discriminates = changes is None or (texts != plain_texts) == changes
        report(ours == texts and discriminates, what,
               f"lorahub {ours}, transformers {texts} (ids {ids}; without the change {plain_texts})")


# ---- F2: T5 activations -------------------------------------------------------------------------------------------

def loss_case(what, model_dir, family, exs, shots, base_loss, changes=True):
    auto = transformers.AutoModelForSeq2SeqLM if family == "t5" else transformers.AutoModelForCausalLM
    tok_class = transformers.T5Tokenizer if family == "t5" else transformers.LlamaTokenizer
    theirs = hf_losses(auto.from_pretrained(model_dir).eval(), tok_class.from_pretrained(model_dir), family, exs)
    ours = json.loads(lorahub("loss", "--model", model_dir, "--examples", shots))
    worst = max(abs(a - b) / abs(b) for a, b in zip(ours["per_example_loss"] + [ours["batch_loss"]],
                                                    theirs[0] + [theirs[1]]))
    moved = abs(theirs[1] - base_loss) / abs(base_loss)
    report(worst <= TOL and (changes is None or (moved > 100 * TOL) == changes), what,
           f"batch loss lorahub {ours['batch_loss']:.7f}, transformers {theirs[1]:.7f} (largest relative "
           f"difference {worst:.1e}; {moved:.1e} from the unchanged model's)")


def write_shots(exs, name):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        for e in exs:
            f.write(json.dumps({"input": e["input"], "target": e["target"]}) + "\n")
    return path


torch.set_num_threads(1)
transformers.logging.set_verbosity_error()
shutil.rmtree(WORK, ignore_errors=True)
os.makedirs(WORK)
t5_fixture, llama_fixture = (os.path.join(SHARED, "fixtures", n) for n in ("tiny-t5", "tiny-llama"))
t5_base, llama_base = os.path.join(t5_fixture, "base"), os.path.join(llama_fixture, "base")

generation_cases("t5", t5_base)
generation_cases("llama", llama_base)

t5_exs = examples(t5_fixture)
t5_shots = write_shots(t5_exs, "t5_shots.jsonl")
t5_plain = hf_losses(transformers.AutoModelForSeq2SeqLM.from_pretrained(t5_base).eval(),
                     transformers.T5Tokenizer.from_pretrained(t5_base), "t5", t5_exs)[1]
# The fixture's activation is gelu_new: the GELUs stay within 1e-3 of its loss on this tiny model (the unit test
# t5_tests Activations.* holds each formula to its closed form); every other activation moves the loss.
gelus = {"gelu", "gelu_10", "gelu_accurate", "gelu_fast", "gelu_new", "gelu_pytorch_tanh", "gelu_python", "quick_gelu"}
for name in sorted(ACT2CLS):
    loss_case(f"t5: dense_act_fn {name}", variant(t5_base, f"t5_act_{name}", {"config.json": updated(dense_act_fn=name)}),
              "t5", t5_exs, t5_shots, t5_plain, changes=None if name in gelus else True)
loss_case("t5: feed_forward_proj gated-silu without dense_act_fn",
          variant(t5_base, "t5_ffp_silu", {"config.json": lambda d: (d.pop("dense_act_fn"),
                                                                      d.update(feed_forward_proj="gated-silu"))}),
          "t5", t5_exs, t5_shots, t5_plain)

# ---- F3: Llama special-token attributes ----------------------------------------------------------------------------

llama_exs = examples(llama_fixture)
llama_shots = write_shots(llama_exs, "llama_shots.jsonl")
llama_plain = hf_losses(transformers.AutoModelForCausalLM.from_pretrained(llama_base).eval(),
                        transformers.LlamaTokenizer.from_pretrained(llama_base), "llama", llama_exs)[1]
for key, piece in (("cls_token", "he"), ("mask_token", "at"), ("sep_token", "es")):
    loss_case(f"llama: tokenizer_config.json {key} {piece!r}",
              variant(llama_base, f"llama_{key}", {"tokenizer_config.json": updated(**{key: piece})}),
              "llama", llama_exs, llama_shots, llama_plain)

if failures:
    sys.exit("transformers reads these differently: " + ", ".join(failures))
print("every setting is read as transformers 4.36.2 reads it")
