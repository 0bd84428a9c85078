#include "remoting/client/dark_api/context_local_storage.h"

#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

namespace gpupool::dark_api {
namespace {

CUcontext Ctx(std::uintptr_t n) {
  return reinterpret_cast<CUcontext>(n);
}
void* Key(std::uintptr_t n) {
  return reinterpret_cast<void*>(n);
}

struct Call {
  CUcontext context;
  void* key;
  void* value;
};
std::vector<Call> g_calls;
void Record(CUcontext context, void* key, void* value) {
  g_calls.push_back({context, key, value});
}

TEST_CASE("context-local storage keeps values per context and key") {
  ContextLocalStorage cls;
  void* value = nullptr;
  CHECK(cls.Get(Ctx(0x10), Key(1), &value) == CUDA_ERROR_INVALID_HANDLE);
  cls.Put(Ctx(0x10), Key(1), Key(0xa), nullptr);
  cls.Put(Ctx(0x20), Key(1), Key(0xb), nullptr);
  cls.Put(Ctx(0x10), Key(2), Key(0xc), nullptr);
  REQUIRE(cls.Get(Ctx(0x10), Key(1), &value) == CUDA_SUCCESS);
  CHECK(value == Key(0xa));
  REQUIRE(cls.Get(Ctx(0x20), Key(1), &value) == CUDA_SUCCESS);
  CHECK(value == Key(0xb));
  cls.Put(Ctx(0x10), Key(1), Key(0xd), nullptr);  // replaces
  REQUIRE(cls.Get(Ctx(0x10), Key(1), &value) == CUDA_SUCCESS);
  CHECK(value == Key(0xd));
  CHECK(cls.size() == 3);
  CHECK(cls.Delete(Ctx(0x10), Key(1)) == CUDA_SUCCESS);
  CHECK(cls.Delete(Ctx(0x10), Key(1)) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(cls.Get(Ctx(0x10), Key(1), &value) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(cls.size() == 2);
}

TEST_CASE("destroying a context runs its destructors newest first, and only its own") {
  g_calls.clear();
  ContextLocalStorage cls;
  cls.Put(Ctx(0x10), Key(1), Key(0xa), &Record);
  cls.Put(Ctx(0x20), Key(1), Key(0xb), &Record);
  cls.Put(Ctx(0x10), Key(3), Key(0xc), &Record);
  cls.Put(Ctx(0x10), Key(2), Key(0xd), nullptr);  // no destructor: just forgotten
  cls.Delete(Ctx(0x10), Key(3));                  // deleted: its destructor never runs
  cls.Put(Ctx(0x10), Key(4), Key(0xe), &Record);
  cls.DestroyContext(Ctx(0x10));
  REQUIRE(g_calls.size() == 2);
  CHECK(g_calls[0].key == Key(4));
  CHECK(g_calls[0].value == Key(0xe));
  CHECK(g_calls[0].context == Ctx(0x10));
  CHECK(g_calls[1].key == Key(1));
  CHECK(g_calls[1].value == Key(0xa));
  void* value = nullptr;
  CHECK(cls.Get(Ctx(0x10), Key(2), &value) == CUDA_ERROR_INVALID_HANDLE);
  CHECK(cls.Get(Ctx(0x20), Key(1), &value) == CUDA_SUCCESS);
  CHECK(cls.size() == 1);
}

ContextLocalStorage* g_reentrant = nullptr;
void PutAgain(CUcontext context, void* key, void*) {
  g_reentrant->Put(context, key, Key(0xf), nullptr);
}

TEST_CASE("a destructor may call back into the storage") {
  ContextLocalStorage cls;
  g_reentrant = &cls;
  cls.Put(Ctx(0x10), Key(1), Key(0xa), &PutAgain);
  cls.DestroyContext(Ctx(0x10));  // would deadlock if destructors ran under the lock
  void* value = nullptr;
  REQUIRE(cls.Get(Ctx(0x10), Key(1), &value) == CUDA_SUCCESS);
  CHECK(value == Key(0xf));
}

TEST_CASE("context-local storage is safe to use from many threads") {
  ContextLocalStorage cls;
  std::vector<std::thread> threads;
  for (std::uintptr_t t = 1; t <= 8; ++t) {
    threads.emplace_back([&cls, t] {
      for (std::uintptr_t k = 1; k <= 200; ++k) {
        cls.Put(Ctx(t), Key(k), Key(k * t), nullptr);
        void* value = nullptr;
        if (cls.Get(Ctx(t), Key(k), &value) != CUDA_SUCCESS || value != Key(k * t)) std::abort();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(cls.size() == 8 * 200);
}

}  // namespace
}  // namespace gpupool::dark_api
