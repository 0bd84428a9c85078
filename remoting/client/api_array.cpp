// CUDA arrays: cuArrayCreate, cuArray3DCreate, cuArrayDestroy, the descriptors and memory
// requirements, forwarded to the server (ArrayCreate, ...). The client keeps each array's descriptor
// and extent (arrays.h) to check and split copies before sending them. Formats whose elements are
// not whole channels (block-compressed, YUV, packed) and sparse or deferred-mapping arrays are not
// forwarded: CUDA_ERROR_NOT_SUPPORTED, logged once. Mipmapped arrays likewise; a level is an array the
// client learns on cuMipmappedArrayGetLevel and retires with its mipmapped array.
#include "common/log.h"
#include "remoting/client/api_support.h"
#include "remoting/client/arrays.h"

using namespace gpupool::client;

namespace {

// The formats cuda.h knows that gpupool does not forward (ArrayElementBytes answers 0 for them).
bool UnforwardedFormat(unsigned format) {
  return format == CU_AD_FORMAT_UNORM_INT_101010_2 || (format >= CU_AD_FORMAT_BC1_UNORM && format <= 0xb5);
}

// CUDA_SUCCESS when the descriptor's format and flags are ones gpupool forwards.
CUresult Forwarded(const CUDA_ARRAY3D_DESCRIPTOR& desc) {
  if (UnforwardedFormat(desc.Format) || (desc.Flags & (CUDA_ARRAY3D_SPARSE | CUDA_ARRAY3D_DEFERRED_MAPPING |
                                                       CUDA_ARRAY3D_VIDEO_ENCODE_DECODE)) != 0) {
    GPUPOOL_LOG_ONCE(kWarn, "array format")
        << "CUDA arrays with block-compressed, YUV or packed formats, or sparse, deferred-mapping or video "
           "flags, "
           "are not supported by gpupool; returning CUDA_ERROR_NOT_SUPPORTED";
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  return gpupool::protocol::ArrayElementBytes(desc.Format, desc.NumChannels) != 0 ? CUDA_SUCCESS
                                                                                  : CUDA_ERROR_INVALID_VALUE;
}

CUresult Create(CUarray* out, const CUDA_ARRAY3D_DESCRIPTOR& desc) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(Forwarded(desc));
  const std::uint32_t element = gpupool::protocol::ArrayElementBytes(desc.Format, desc.NumChannels);
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::Call<Op::ArrayCreate>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(
      Rpc<Op::ArrayCreate>(context,
                           {desc.Width, desc.Height, desc.Depth, static_cast<std::uint32_t>(desc.Format),
                            desc.NumChannels, desc.Flags},
                           &reply));
  auto array = std::make_unique<Array>();
  array->id = std::get<0>(reply);
  array->desc = desc;
  array->extent = gpupool::protocol::ArrayExtentOf(desc.Width, desc.Height, desc.Depth, element);
  *out = ArrayTable::Get().arrays.Add(std::move(array));
  return CUDA_SUCCESS;
}

CUresult Describe(CUarray handle, CUDA_ARRAY3D_DESCRIPTOR* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  const Array* array = ArrayTable::Get().arrays.Find(handle);
  if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  protocol::Call<Op::ArrayGetDescriptor>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::ArrayGetDescriptor>(context, {array->id}, &reply));
  const auto& [width, height, depth, format, channels, flags] = reply;
  *out = CUDA_ARRAY3D_DESCRIPTOR{};
  out->Width = width;
  out->Height = height;
  out->Depth = depth;
  out->Format = static_cast<CUarray_format>(format);
  out->NumChannels = channels;
  out->Flags = flags;
  return CUDA_SUCCESS;
}

}  // namespace

GPUPOOL_API CUresult cuArrayCreate(CUarray* out, const CUDA_ARRAY_DESCRIPTOR* desc) {
  if (desc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_ARRAY3D_DESCRIPTOR d{};
  d.Width = desc->Width;
  d.Height = desc->Height;
  d.Format = desc->Format;
  d.NumChannels = desc->NumChannels;
  return Create(out, d);
}

GPUPOOL_API CUresult cuArray3DCreate(CUarray* out, const CUDA_ARRAY3D_DESCRIPTOR* desc) {
  if (desc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Create(out, *desc);
}

GPUPOOL_API CUresult cuArrayDestroy(CUarray handle) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  const Array* array = ArrayTable::Get().arrays.Find(handle);
  if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  GPUPOOL_CU_RETURN_IF_ERROR(DestroyRemote<Op::ArrayDestroy>(array->id));
  ArrayTable::Get().arrays.Retire(handle);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuArrayGetDescriptor(CUDA_ARRAY_DESCRIPTOR* out, CUarray handle) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_ARRAY3D_DESCRIPTOR d{};
  GPUPOOL_CU_RETURN_IF_ERROR(Describe(handle, &d));
  *out = CUDA_ARRAY_DESCRIPTOR{};
  out->Width = d.Width;
  out->Height = d.Height;
  out->Format = d.Format;
  out->NumChannels = d.NumChannels;
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuArray3DGetDescriptor(CUDA_ARRAY3D_DESCRIPTOR* out, CUarray handle) {
  return Describe(handle, out);
}

GPUPOOL_API CUresult cuArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS* out, CUarray handle,
                                                  CUdevice device) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  const Array* array = ArrayTable::Get().arrays.Find(handle);
  if (array == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  protocol::Call<Op::ArrayGetMemoryRequirements>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::ArrayGetMemoryRequirements>(context, {array->id, device}, &reply));
  *out = CUDA_ARRAY_MEMORY_REQUIREMENTS{};
  out->size = std::get<0>(reply);
  out->alignment = std::get<1>(reply);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMipmappedArrayCreate(CUmipmappedArray* out, const CUDA_ARRAY3D_DESCRIPTOR* desc,
                                            unsigned levels) {
  if (out == nullptr || desc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(Forwarded(*desc));
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  protocol::Call<Op::MipmappedArrayCreate>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MipmappedArrayCreate>(
      context,
      {desc->Width, desc->Height, desc->Depth, static_cast<std::uint32_t>(desc->Format), desc->NumChannels,
       desc->Flags, levels},
      &reply));
  auto mipmap = std::make_unique<MipmappedArray>();
  mipmap->id = std::get<0>(reply);
  mipmap->desc = *desc;
  *out = ArrayTable::Get().mipmaps.Add(std::move(mipmap));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMipmappedArrayDestroy(CUmipmappedArray handle) {
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  const MipmappedArray* mipmap = ArrayTable::Get().mipmaps.Find(handle);
  if (mipmap == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  GPUPOOL_CU_RETURN_IF_ERROR(DestroyRemote<Op::MipmappedArrayDestroy>(mipmap->id));
  ArrayTable::Get().RetireMipmap(handle);
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuMipmappedArrayGetLevel(CUarray* out, CUmipmappedArray handle, unsigned level) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::uint64_t context = 0;
  GPUPOOL_CU_RETURN_IF_ERROR(ReadyWithContext(&context));
  MipmappedArray* mipmap = ArrayTable::Get().mipmaps.Find(handle);
  if (mipmap == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  std::lock_guard<std::mutex> lock(mipmap->mu);
  if (auto known = mipmap->levels.find(level); known != mipmap->levels.end()) {
    *out = known->second;
    return CUDA_SUCCESS;
  }
  protocol::Call<Op::MipmappedArrayGetLevel>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::MipmappedArrayGetLevel>(context, {mipmap->id, level}, &reply));
  const auto& [id, width, height, depth] = reply;
  auto array = std::make_unique<Array>();
  array->id = id;
  array->desc = mipmap->desc;
  array->desc.Width = width;
  array->desc.Height = height;
  array->desc.Depth = depth;
  array->extent = gpupool::protocol::ArrayExtentOf(
      width, height, depth,
      gpupool::protocol::ArrayElementBytes(mipmap->desc.Format, mipmap->desc.NumChannels));
  *out = mipmap->levels[level] = ArrayTable::Get().arrays.Add(std::move(array));
  return CUDA_SUCCESS;
}

GPUPOOL_API CUresult cuDeviceGetTexture1DLinearMaxWidth(size_t* out, CUarray_format format, unsigned channels,
                                                        CUdevice device) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GPUPOOL_CU_RETURN_IF_ERROR(State::Get().Ready());
  if (State::Get().device(device) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  protocol::Call<Op::DeviceGetTexture1DLinearMaxWidth>::Reply reply;
  GPUPOOL_CU_RETURN_IF_ERROR(Rpc<Op::DeviceGetTexture1DLinearMaxWidth>(
      0, {static_cast<std::uint32_t>(format), channels, device}, &reply));
  *out = std::get<0>(reply);
  return CUDA_SUCCESS;
}
