#!/usr/bin/env python3
"""Trains the sentiment text CNN (model.py) on IMDB-style reviews and logs every step.

  python train.py --device cpu --steps 200 --seed 1                  # generates a small corpus first
  python train.py --device cuda --data-dir /data/aclImdb --steps 2000  # the real aclImdb works too

Human-readable progress goes to stderr; the machine-readable log is JSON lines (to stdout, or --log
FILE): one "start" record with the configuration and device, one "step" record per step (loss, step
time, examples per second), "eval" records with test accuracy, and a final "done" record. Runs with the
same --seed on the same device produce the same losses (deterministic seeding, data order and
algorithms), so a native run and a gpupool run can be compared step by step.
"""
import argparse
import json
import os
import random
import sys
import time

import data


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number of at least 1")
    return value


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cpu, cuda or cuda:N (default cuda)")
    p.add_argument("--steps", type=positive_int, default=500, help="optimizer steps (default 500)")
    p.add_argument("--seed", type=int, default=0, help="seeds data generation, order, init, dropout")
    p.add_argument("--data-dir", default="data/synthetic-imdb",
                   help="aclImdb-layout directory; generated there if it has no train/ split")
    p.add_argument("--train-size", type=positive_int, default=5000, help="reviews generated for train/")
    p.add_argument("--test-size", type=positive_int, default=1000, help="reviews generated for test/")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-len", type=positive_int, default=400, help="tokens kept per review")
    p.add_argument("--num-workers", type=int, default=2, help="DataLoader worker processes (0: none)")
    p.add_argument("--eval-every", type=int, default=100, help="steps between test evaluations (0: end only)")
    p.add_argument("--print-every", type=positive_int, default=10, help="steps between progress lines")
    p.add_argument("--log", default="-", help="JSON lines log file ('-': stdout)")
    args = p.parse_args(argv)
    if args.num_workers < 0 or args.eval_every < 0 or not args.lr > 0:
        p.error("--num-workers and --eval-every must be >= 0 and --lr > 0")
    return args


def seed_everything(seed, device):
    import torch

    if device.startswith("cuda"):
        # cuBLAS is deterministic only with a fixed workspace; must be set before CUDA starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


def evaluate(model, loader, device):
    import torch

    model.eval()
    correct = total = 0
    loss_sum = 0.0
    with torch.no_grad():
        for ids, labels in loader:
            ids, labels = ids.to(device), labels.to(device)
            logits = model(ids)
            loss_sum += torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(dim=1) == labels).sum().item()
            total += labels.numel()
    model.train()
    return correct / total, loss_sum / total


def main(argv=None):
    args = parse_args(argv)
    import torch
    from torch.utils.data import DataLoader

    from dataset import PadCollate, ReviewDataset
    from model import TextCNN

    log = sys.stdout if args.log == "-" else open(args.log, "w", encoding="utf-8")

    def record(event, **fields):
        log.write(json.dumps({"event": event, **fields}) + "\n")
        log.flush()

    def say(text):
        print(text, file=sys.stderr, flush=True)

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        say(f"error: --device {args.device} but CUDA is not available (is the pod bound to a GPU?)")
        return 1
    device = torch.device(args.device)
    seed_everything(args.seed, args.device)

    if not os.path.isdir(os.path.join(args.data_dir, "train")):
        say(f"generating {args.train_size}+{args.test_size} reviews in {args.data_dir}")
        data.generate_corpus(args.data_dir, args.train_size, args.test_size, args.seed)
    train_examples = data.read_split(args.data_dir, "train")
    test_examples = data.read_split(args.data_dir, "test")
    vocab = data.Vocab.build(text for text, _ in train_examples)

    model = TextCNN(len(vocab)).to(device)
    collate = PadCollate(model.min_len)
    train_loader = DataLoader(ReviewDataset(train_examples, vocab, args.max_len), batch_size=args.batch_size,
                              shuffle=True, drop_last=True, num_workers=args.num_workers, collate_fn=collate,
                              generator=torch.Generator().manual_seed(args.seed),
                              pin_memory=device.type == "cuda")
    test_loader = DataLoader(ReviewDataset(test_examples, vocab, args.max_len), batch_size=256,
                             num_workers=args.num_workers, collate_fn=collate)
    if len(train_loader) == 0:
        say(f"error: {len(train_examples)} training reviews is less than one batch of {args.batch_size}")
        return 1
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    record("start", device=str(device), device_name=torch.cuda.get_device_name(device) if device.type == "cuda"
           else "cpu", torch=torch.__version__, seed=args.seed, steps=args.steps, batch_size=args.batch_size,
           lr=args.lr, vocab=len(vocab), train_examples=len(train_examples), test_examples=len(test_examples),
           parameters=sum(p.numel() for p in model.parameters()))
    say(f"training on {device} ({len(train_examples)} reviews, vocabulary {len(vocab)}), {args.steps} steps")

    step, start = 0, time.perf_counter()
    loss_value = float("nan")
    while step < args.steps:
        fetch_start = time.perf_counter()
        for ids, labels in train_loader:
            step_start = time.perf_counter()
            ids = ids.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(ids), labels)
            loss.backward()
            optimizer.step()
            loss_value = loss.item()  # waits for the device, so the step time below is complete
            now = time.perf_counter()
            step += 1
            record("step", step=step, loss=loss_value, step_time_s=now - step_start,
                   data_time_s=step_start - fetch_start, examples_per_s=labels.numel() / (now - step_start))
            if step % args.print_every == 0 or step == 1:
                say(f"step {step:5d}  loss {loss_value:.4f}  {1000 * (now - step_start):7.2f} ms/step")
            if args.eval_every and step % args.eval_every == 0 and step < args.steps:
                accuracy, test_loss = evaluate(model, test_loader, device)
                record("eval", step=step, accuracy=accuracy, loss=test_loss)
                say(f"step {step:5d}  test accuracy {accuracy:.3f}")
            if step >= args.steps:
                break
            fetch_start = time.perf_counter()
    train_time = time.perf_counter() - start
    accuracy, test_loss = evaluate(model, test_loader, device)
    record("eval", step=step, accuracy=accuracy, loss=test_loss)
    record("done", steps=step, train_time_s=train_time, final_loss=loss_value, test_accuracy=accuracy)
    say(f"done: {step} steps in {train_time:.1f} s, test accuracy {accuracy:.3f}")
    if log is not sys.stdout:
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
