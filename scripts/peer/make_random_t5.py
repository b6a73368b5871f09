"""Writes a randomly initialised Hugging Face T5 of a named shape, and optionally random PEFT LoRA modules for it.

Runs in scripts/peer.sh's virtual environment (transformers 4.36.2, peft 0.7.1, Debian's torch 1.13). Weights come
from transformers' own initialisation (`T5ForConditionalGeneration(config)`, `_init_weights`) under
torch.manual_seed(seed); the tokenizer files are copied from --tokenizer-from (the fixture's 400-piece
SentencePiece model: its ids are a subset of any vocabulary here). LoRA modules are PEFT LoraConfig adapters whose
A and B are overwritten with random values (B is zero after PEFT's initialisation, which would make every module a
no-op): A ~ U(-1/sqrt(in), 1/sqrt(in)) as PEFT's kaiming init, B ~ N(0, b_std^2), per-module seed seed*100+i.

Shapes (transformers T5Config fields):
  flan-t5-base  vocab 32128, d_model 768, d_kv 64, d_ff 2048, 12+12 layers, 12 heads, gated-gelu, untied
  t5-large      vocab 32128, d_model 1024, d_kv 64, d_ff 4096, 24+24 layers, 16 heads, relu, tied embeddings
"""
import argparse
import json
import os
import shutil

import torch

SHAPES = {
    "flan-t5-base": dict(vocab_size=32128, d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_decoder_layers=12,
                         num_heads=12, feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    "t5-large": dict(vocab_size=32128, d_model=1024, d_kv=64, d_ff=4096, num_layers=24, num_decoder_layers=24,
                     num_heads=16, feed_forward_proj="relu", tie_word_embeddings=True),
}
TOKENIZER_FILES = ["spiece.model", "tokenizer_config.json", "special_tokens_map.json"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", choices=sorted(SHAPES), required=True)
    p.add_argument("--out", required=True, help="the model goes to OUT/base, modules to OUT/lora/loraI")
    p.add_argument("--tokenizer-from", required=True)
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="storage dtype of the base")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--modules", type=int, default=0)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--targets", default="q,v")
    p.add_argument("--b-std", type=float, default=0.02)
    return p.parse_args()


def write_base(args, base_dir):
    from transformers import T5Config, T5ForConditionalGeneration
    config = T5Config(dropout_rate=0.0, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
                      **SHAPES[args.shape])
    torch.manual_seed(args.seed)
    model = T5ForConditionalGeneration(config).eval()
    if args.dtype == "bfloat16":
        model = model.to(torch.bfloat16)
    model.save_pretrained(base_dir, safe_serialization=True)
    for name in TOKENIZER_FILES:
        shutil.copy(os.path.join(args.tokenizer_from, name), base_dir)
    return model


def write_modules(args, model, lora_dir):
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
    model = model.float()
    config = LoraConfig(task_type="SEQ_2_SEQ_LM", r=args.rank, lora_alpha=args.alpha, lora_dropout=0.0,
                        target_modules=args.targets.split(","), bias="none")
    peft_model = get_peft_model(model, config)
    names = [k for k in get_peft_model_state_dict(peft_model)]
    for i in range(args.modules):
        g = torch.Generator().manual_seed(args.seed * 100 + i)
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_A" in name:
                    bound = 1.0 / param.shape[1] ** 0.5
                    param.copy_((torch.rand(param.shape, generator=g) * 2 - 1) * bound)
                elif "lora_B" in name:
                    param.copy_(torch.randn(param.shape, generator=g) * args.b_std)
        out = os.path.join(lora_dir, f"lora{i}")
        peft_model.save_pretrained(out, safe_serialization=True)
        readme = os.path.join(out, "README.md")
        if os.path.exists(readme):
            os.remove(readme)
        with open(os.path.join(out, "adapter_config.json")) as f:
            cfg = json.load(f)
        cfg["base_model_name_or_path"] = "base"
        with open(os.path.join(out, "adapter_config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
    return len(names)


def main():
    args = parse_args()
    base_dir = os.path.join(args.out, "base")
    model = write_base(args, base_dir)
    if args.modules:
        n = write_modules(args, model, os.path.join(args.out, "lora"))
        print(f"{args.modules} modules of {n} tensors each")
    params = sum(p.numel() for p in model.parameters())
    print(f"{args.shape}: {params / 1e6:.1f} M parameters ({args.dtype}) in {base_dir}")


if __name__ == "__main__":
    main()
