#!/usr/bin/python3
"""Checks of examples/ and the Grafana dashboard (ctest deploy.examples.<case>).

  examples_test.py --work DIR CASE     exit 0 passed, 1 failed, 77 skipped (with the reason)
"""
import collections
import importlib.util
import json
import math
import os
import re
import subprocess
import sys
import tempfile

import yaml

import k8s_schema
from cases import SKIP, Cases, expect, main
from renderer import CHART_DIR, SOURCE_DIR

EXAMPLES = os.path.join(SOURCE_DIR, "examples")
CNN_DIR = os.path.join(EXAMPLES, "sentiment-cnn")
RESOURCES = ("gpupool.io/gpu", "gpupool.io/gpu-percent", "gpupool.io/gpu-memory")


def load_data_module():
    spec = importlib.util.spec_from_file_location("sentiment_data", os.path.join(CNN_DIR, "data.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


case = Cases()


def gpupool_limits(pod_spec, where):
    """The gpupool resources the pod asks for; errors if they are not what the operator accepts."""
    asked = {}
    for c in pod_spec["containers"]:
        limits = c.get("resources", {}).get("limits", {})
        for name in RESOURCES:
            if name in limits:
                value = limits[name]
                expect(isinstance(value, int) and not isinstance(value, bool),
                       f"{where}: {name} must be a whole number, got {value!r}")
                asked[name] = value
    expect(asked.get("gpupool.io/gpu", 0) >= 1, f"{where}: asks for no gpupool.io/gpu")
    expect(1 <= asked.get("gpupool.io/gpu-percent", 100) <= 100, f"{where}: gpu-percent outside 1..100")
    return asked


@case
def manifests(work):
    with open(os.path.join(CHART_DIR, "crds", "gpupool.io_gpupools.yaml")) as f:
        crd = yaml.safe_load(f)
    crds = {("gpupool.io/v1alpha1", "GPUPool"): k8s_schema.crd_schema(crd)}
    files = [os.path.join(EXAMPLES, "gpupool.yaml"), os.path.join(EXAMPLES, "half-gpu-pod.yaml"),
             os.path.join(EXAMPLES, "two-gpu-pod.yaml"), os.path.join(EXAMPLES, "node-local-pod.yaml"),
             os.path.join(CNN_DIR, "job.yaml")]
    errors, kinds = [], []
    for path in files:
        with open(path) as f:
            for obj in yaml.safe_load_all(f):
                kinds.append(obj["kind"])
                errors += [f"{os.path.relpath(path, SOURCE_DIR)}: {e}" for e in k8s_schema.check_object(obj, crds)]
                if obj["kind"] == "Pod" and path.endswith("half-gpu-pod.yaml"):
                    asked = gpupool_limits(obj["spec"], path)
                    expect(asked.get("gpupool.io/gpu-percent") == 50, "half-gpu-pod.yaml must ask for 50 %")
                if obj["kind"] == "Pod" and path.endswith("two-gpu-pod.yaml"):
                    asked = gpupool_limits(obj["spec"], path)
                    expect(asked.get("gpupool.io/gpu") == 2, "two-gpu-pod.yaml must ask for two GPUs")
                if obj["kind"] == "Pod" and path.endswith("node-local-pod.yaml"):
                    asked = gpupool_limits(obj["spec"], path)
                    expect(asked.get("gpupool.io/gpu") == 1, "node-local-pod.yaml must ask for a GPU")
                    expect(obj["metadata"]["annotations"].get("gpupool.io/locality") == "node",
                           "node-local-pod.yaml must ask for gpupool.io/locality: node")
                if obj["kind"] == "Job":
                    asked = gpupool_limits(obj["spec"]["template"]["spec"], path)
                    expect(asked["gpupool.io/gpu"] == 1 and asked["gpupool.io/gpu-percent"] == 50,
                           "the training Job asks for gpupool.io/gpu: 1 and gpupool.io/gpu-percent: 50")
    expect(not errors, "\n".join(errors))
    expect(sorted(kinds) == ["GPUPool", "Job", "Pod", "Pod", "Pod"], f"unexpected example kinds {kinds}")
    print(f"checked {len(files)} example manifests")


def documented_metrics():
    with open(os.path.join(SOURCE_DIR, "docs", "operations.md")) as f:
        return set(re.findall(r"^\| `(gpupool_[a-z_]+)` \|", f.read(), re.M))


@case
def dashboard(work):
    with open(os.path.join(CHART_DIR, "dashboards", "gpupool.json")) as f:
        dash = json.load(f)
    expect(dash.get("uid") and dash.get("title"), "dashboard needs a uid and a title")
    variables = {v["name"] for v in dash["templating"]["list"]}
    expect("datasource" in variables, "the Prometheus data source must be a variable, not a fixed uid")
    ids = [p["id"] for p in dash["panels"]]
    expect(len(ids) == len(set(ids)), "duplicate panel ids")
    documented = documented_metrics()
    expect(len(documented) > 20, "docs/operations.md lists no metrics")
    used, problems = set(), []
    cells = set()
    for p in dash["panels"]:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    problems.append(f"panel {p['title']!r} overlaps another")
                    break
                cells.add((x, y))
        expect(g["x"] + g["w"] <= 24, f"panel {p['title']!r} is wider than the dashboard")
        for t in p.get("targets", []):
            expect(t["datasource"]["uid"] == "${datasource}", f"panel {p['title']!r} has a fixed data source")
            for m in re.findall(r"gpupool_[a-z_]+", t["expr"]):
                m = re.sub(r"_(bucket|sum|count)$", "", m)
                used.add(m)
                if m not in documented:
                    problems.append(f"panel {p['title']!r} uses {m}, which docs/operations.md does not list")
            expect(t["expr"].count("(") == t["expr"].count(")"), f"unbalanced query in {p['title']!r}")
    expect(not problems, "\n".join(sorted(set(problems))))
    print(f"{len(dash['panels'])} panels use {len(used)} of the {len(documented)} documented metrics")


@case
def sentiment_data(work):
    data = load_data_module()
    scratch = tempfile.TemporaryDirectory(dir=work)
    root_a, root_b = os.path.join(scratch.name, "a"), os.path.join(scratch.name, "b")
    for root in (root_a, root_b):
        data.generate_corpus(root, 2000, 600, seed=7)
    train, test = data.read_split(root_a, "train"), data.read_split(root_a, "test")
    expect(train == data.read_split(root_b, "train"), "the same seed must generate the same corpus")
    expect(len(train) == 2000 and len(test) == 600, f"sizes {len(train)}, {len(test)}")
    expect(collections.Counter(label for _, label in train) == {0: 1000, 1: 1000}, "labels not balanced")
    names = os.listdir(os.path.join(root_a, "train", "pos"))
    expect(all(re.fullmatch(r"\d+_(7|8|9|10)\.txt", n) for n in names), "positive files are not <id>_<7..10>.txt")
    expect(data.tokenize("Not BAD at all!<br />Isn't it?") == ["not", "bad", "at", "all", "!", "isn't", "it", "?"],
           "tokenizer")
    vocab = data.Vocab.build(t for t, _ in train)
    expect(vocab.itos[:2] == ["<pad>", "<unk>"] and vocab.encode("zzzz qqqq", 10) == [1, 1], "vocabulary specials")
    expect(len(vocab.encode(" ".join(["good"] * 50), 16)) == 16, "max_len not applied")
    expect(data.pad_batch([[5], [1, 2, 3, 4, 5, 6]], 4) == [[5, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6]], "padding")
    try:
        data.read_split(os.path.join(work, "missing"), "train")
        raise AssertionError("reading a missing corpus must fail")
    except FileNotFoundError as e:
        expect("aclImdb" in str(e), f"unclear error: {e}")

    # Learnable, not trivial: a unigram naive Bayes baseline is well above chance and well below 100 %.
    counts = [collections.Counter(), collections.Counter()]
    for text, label in train:
        counts[label].update(data.tokenize(text))
    vocab_size = len(set(counts[0]) | set(counts[1]))
    totals = [sum(c.values()) for c in counts]

    def predict(text):
        scores = [sum(math.log((counts[l][w] + 1) / (totals[l] + vocab_size)) for w in data.tokenize(text))
                  for l in (0, 1)]
        return int(scores[1] > scores[0])

    accuracy = sum(predict(t) == l for t, l in test) / len(test)
    print(f"naive Bayes baseline accuracy on the synthetic test split: {accuracy:.3f}")
    expect(0.6 < accuracy < 0.95, f"baseline accuracy {accuracy:.3f}: the corpus is trivial or noise")


@case
def sentiment_usage_errors(work):
    # Argument checks run before PyTorch is imported, so they are testable everywhere.
    for args, needle in ((["--steps", "0"], "--steps"), (["--batch-size", "-1"], "--batch-size"),
                         (["--lr", "0"], "--lr"), (["--steps", "many"], "--steps")):
        result = subprocess.run([sys.executable, os.path.join(CNN_DIR, "train.py")] + args,
                                capture_output=True, text=True)
        expect(result.returncode == 2 and needle in result.stderr,
               f"train.py {' '.join(args)}: exit {result.returncode}, stderr {result.stderr!r}")


@case
def sentiment_training(work):
    if importlib.util.find_spec("torch") is None:
        print(f"SKIPPED: PyTorch is not importable by {sys.executable}; the CPU training run needs it "
              "(pip install torch)")
        return SKIP
    scratch = tempfile.TemporaryDirectory(dir=work)
    runs = []
    for run in range(2):
        result = subprocess.run(
            [sys.executable, os.path.join(CNN_DIR, "train.py"), "--device", "cpu", "--steps", "60", "--seed", "3",
             "--batch-size", "32", "--eval-every", "0", "--num-workers", "2", "--train-size", "2000",
             "--test-size", "400", "--data-dir", os.path.join(scratch.name, "corpus")],
            capture_output=True, text=True, timeout=900)
        expect(result.returncode == 0, f"training failed:\n{result.stderr[-3000:]}")
        records = [json.loads(line) for line in result.stdout.splitlines()]
        runs.append(records)
    steps = [r for r in runs[0] if r["event"] == "step"]
    expect(len(steps) == 60 and [r["step"] for r in steps] == list(range(1, 61)), "one record per step")
    expect(all(r["step_time_s"] > 0 for r in steps), "step times")
    losses = [r["loss"] for r in steps]
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    print(f"mean loss of steps 1-10: {first:.4f}, of steps 51-60: {last:.4f}")
    expect(last < first, "the loss did not decrease")
    expect(losses == [r["loss"] for r in runs[1] if r["event"] == "step"], "the same seed gave different losses")
    expect(runs[0][-1]["event"] == "done", "no final record")


if __name__ == "__main__":
    sys.exit(main(__doc__, case, lambda args, fn: fn(args.work)))
