"""PyTorch on a GPU, natively or through gpupool (issue 3 item 5): availability, device name and
memory, tensor ops, a cuBLAS matmul and a cuDNN convolution checked against the CPU. Prints one JSON
object and exits 0 when every check holds, 1 otherwise, 2 when PyTorch or a GPU is missing.
Run by scripts/gpu-check.sh, once natively and once with gpupool's libcuda.so.1."""
import json
import sys
import time

try:
    import torch
except ImportError as e:  # the checks need PyTorch; say so instead of failing obscurely
    print(json.dumps({"ok": False, "error": f"PyTorch is not importable: {e}"}))
    sys.exit(2)


def main():
    out = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available()}
    if not out["cuda_available"]:
        out.update(ok=False, error="torch.cuda.is_available() is False")
        print(json.dumps(out))
        return 2
    props = torch.cuda.get_device_properties(0)
    free, total = torch.cuda.mem_get_info(0)
    out.update(device=torch.cuda.get_device_name(0), total_memory=props.total_memory, mem_get_info_total=total,
               mem_get_info_free=free, multiprocessors=props.multi_processor_count,
               capability=f"{props.major}.{props.minor}")
    checks = {}
    gen = torch.Generator().manual_seed(1)

    a = torch.randn(1024, 1024, generator=gen)
    b = torch.randn(1024, 1024, generator=gen)
    checks["add_mul"] = torch.allclose(((a.cuda() + 1) * b.cuda()).cpu(), (a + 1) * b)

    start = time.perf_counter()
    c = (a.cuda() @ b.cuda()).cpu()  # cuBLAS SGEMM (TF32 off by default for matmul)
    out["matmul_s"] = time.perf_counter() - start
    checks["cublas_matmul"] = torch.allclose(c, a @ b, rtol=1e-3, atol=1e-2)

    x = torch.randn(8, 16, 64, 64, generator=gen)
    w = torch.randn(32, 16, 3, 3, generator=gen)
    torch.backends.cudnn.allow_tf32 = False
    y = torch.nn.functional.conv2d(x.cuda(), w.cuda(), padding=1).cpu()  # cuDNN
    checks["cudnn_conv2d"] = torch.allclose(y, torch.nn.functional.conv2d(x, w, padding=1), rtol=1e-3, atol=1e-2)
    out["cudnn_version"] = torch.backends.cudnn.version()

    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        z = torch.ones(1 << 20, device="cuda").sum()
    s.synchronize()
    checks["stream_sum"] = z.item() == float(1 << 20)

    out["checks"] = checks
    out["ok"] = all(checks.values())
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
