#include "remoting/client/dark_api/dlsym_interpose.h"

#if defined(__x86_64__) && defined(__linux__)

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/log.h"

// Names the assembly below refers to: hidden, so that it reaches them without the PLT or GOT.
extern "C" {
using DlsymFunction = void* (*)(void*, const char*);
// Read and written with atomic builtins (std::atomic's members may be out-of-line, instrumented
// code, which the early path below must not run).
__attribute__((visibility("hidden"))) DlsymFunction gpupool_real_dlsym = nullptr;
__attribute__((visibility("hidden"))) DlsymFunction gpupool_resolve_real_dlsym();
__attribute__((visibility("hidden"))) void* gpupool_dlsym_redirect(void* handle, const char* name);
}

// dlsym(handle, name). RTLD_DEFAULT (0) and RTLD_NEXT (-1) jump to the real dlsym with the caller's
// return address still on the stack; any other handle goes to gpupool_dlsym_redirect. Before the
// real dlsym is known (a sanitizer runtime or another library's constructor may call dlsym before
// ours runs) the slow path finds it, keeping the arguments and the stack alignment.
asm(R"(
  .text
  .globl dlsym
  .type dlsym, @function
dlsym:
  .cfi_startproc
  cmpq $-1, %rdi
  je 1f
  testq %rdi, %rdi
  je 1f
  jmp gpupool_dlsym_redirect
1:
  movq gpupool_real_dlsym(%rip), %rax
  testq %rax, %rax
  je 2f
  jmp *%rax
2:
  pushq %rdi
  .cfi_adjust_cfa_offset 8
  pushq %rsi
  .cfi_adjust_cfa_offset 8
  subq $8, %rsp
  .cfi_adjust_cfa_offset 8
  call gpupool_resolve_real_dlsym
  addq $8, %rsp
  .cfi_adjust_cfa_offset -8
  popq %rsi
  .cfi_adjust_cfa_offset -8
  popq %rdi
  .cfi_adjust_cfa_offset -8
  jmp *%rax
  .cfi_endproc
  .size dlsym, .-dlsym
)");

// Not instrumented: a sanitizer runtime's start-up calls dlsym(RTLD_NEXT, ...) before its shadow
// memory exists, and this is what that first call runs.
extern "C" __attribute__((no_sanitize("address", "undefined"))) DlsymFunction gpupool_resolve_real_dlsym() {
  DlsymFunction found = __atomic_load_n(&gpupool_real_dlsym, __ATOMIC_ACQUIRE);
  if (found != nullptr) return found;
  // The next dlsym after this library: libc's (or that of a library preloaded after ours).
  // GLIBC_2.2.5 is dlsym's version on x86-64 in every glibc, also after 2.34 moved it into libc.
  found = reinterpret_cast<DlsymFunction>(dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5"));
  if (found == nullptr) found = reinterpret_cast<DlsymFunction>(dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34"));
  if (found == nullptr) {
    static const char kMessage[] = "gpupool libcuda.so.1: cannot find the C library's dlsym\n";
    (void)!write(2, kMessage, sizeof kMessage - 1);
    std::abort();
  }
  __atomic_store_n(&gpupool_real_dlsym, found, __ATOMIC_RELEASE);
  return found;
}

namespace gpupool::dark_api {
namespace {

// Resolve before main, so that the slow path above is only taken by code that runs earlier.
[[maybe_unused]] const DlsymFunction g_resolved_at_load = gpupool_resolve_real_dlsym();

// The library this code is linked into: its link map (to recognise it) and a dlopen handle (to look
// names up in it). Both stay valid for the life of the process (the handle is never closed).
struct Ours {
  link_map* map = nullptr;
  void* handle = nullptr;
};

const Ours& OurLibrary() {
  static const Ours ours = [] {
    Ours found;
    Dl_info info{};
    if (dladdr1(reinterpret_cast<const void*>(&OurLibrary), &info, reinterpret_cast<void**>(&found.map),
                RTLD_DL_LINKMAP) != 0 &&
        info.dli_fname != nullptr) {
      found.handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    }
    return found;
  }();
  return ours;
}

// Names gpupool may answer for: the driver API's ("cu" and a capital letter).
bool IsDriverName(const char* name) {
  return name != nullptr && name[0] == 'c' && name[1] == 'u' && name[2] >= 'A' && name[2] <= 'Z';
}

bool IsDriverLibraryName(const char* path) {
  if (path == nullptr) return false;
  const char* slash = std::strrchr(path, '/');
  const char* base = slash != nullptr ? slash + 1 : path;
  return std::strncmp(base, "libcuda.so", 10) == 0;
}

}  // namespace

bool IsForeignDriverHandle(void* handle) {
  link_map* map = nullptr;
  if (handle == nullptr || dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr) return false;
  return map != OurLibrary().map && IsDriverLibraryName(map->l_name);
}

}  // namespace gpupool::dark_api

extern "C" void* gpupool_dlsym_redirect(void* handle, const char* name) {
  using gpupool::dark_api::IsDriverName;
  using gpupool::dark_api::IsForeignDriverHandle;
  using gpupool::dark_api::OurLibrary;
  const DlsymFunction real = gpupool_resolve_real_dlsym();
  if (IsDriverName(name) && OurLibrary().handle != nullptr && IsForeignDriverHandle(handle)) {
    void* ours = real(OurLibrary().handle, name);
    if (ours != nullptr) {
      link_map* map = nullptr;
      dlinfo(handle, RTLD_DI_LINKMAP, &map);
      GPUPOOL_LOG_ONCE(kInfo, "dark_api.dlsym_redirect")
          << "dlsym: answering driver symbols looked up in " << map->l_name
          << " with gpupool's libcuda.so.1 (first: " << name << ")";
      return ours;
    }
  }
  return real(handle, name);
}

#else  // not x86-64 Linux: no interposition (see the header).

namespace gpupool::dark_api {
bool IsForeignDriverHandle(void*) {
  return false;
}
}  // namespace gpupool::dark_api

#endif
