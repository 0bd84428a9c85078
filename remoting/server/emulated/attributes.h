// The emulated GPU's CUdevice_attribute values: an H200 (SXM, 132 SMs, compute capability 9.0).
//
// One table holds every attribute cuda.h defines; the few that differ per GPU (PCI bus) or come from
// the configuration are filled in by DeviceAttribute.
//
// Thread-safety: immutable data.
#pragma once

#include <cuda.h>

namespace gpupool::server::emulated {

// CUDA_SUCCESS with *value set, or CUDA_ERROR_INVALID_VALUE for an attribute cuda.h lacks.
CUresult DeviceAttribute(CUdevice_attribute attribute, int pci_bus, int* value);
// The largest attribute number the table knows (tests walk 1..this).
int MaxDeviceAttribute();

}  // namespace gpupool::server::emulated
