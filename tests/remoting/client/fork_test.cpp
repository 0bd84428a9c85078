// The client in a child of fork() (state.h): a child forked while a thread of the parent is still
// connecting must not wait for the parent's initialisation lock, which no thread of the child will
// ever release.
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "remoting/client/state.h"
#include "tests/support/process.h"

namespace gpupool::client {
namespace {

// A Unix socket that accepts connections and never answers them.
int SilentListener(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 4) != 0)
    return -1;
  return fd;
}

// Runs in a process of its own (State is one per process); exits 0 when the grandchild, forked while
// this process's cuInit is connecting, got CUDA_ERROR_NOT_INITIALIZED from its own cuInit at once.
[[noreturn]] void ForkWhileConnecting(int listener, const std::string& path) {
  ::setenv("GPUPOOL_SERVER", ("unix:" + path).c_str(), 1);
  std::thread connecting([] { (void)State::Get().Init(); });
  const int connection = ::accept(listener, nullptr, nullptr);  // that thread is inside Init now
  const pid_t child = ::fork();
  if (child == 0) {
    ::alarm(10);  // a child that blocks dies of it
    ::_exit(State::Get().Init() == CUDA_ERROR_NOT_INITIALIZED ? 0 : 3);
  }
  int status = 0;
  const bool reaped = child > 0 && ::waitpid(child, &status, 0) == child;
  ::close(connection);  // the handshake fails and Init returns
  connecting.join();
  ::_exit(!reaped ? 5 : WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status));
}

TEST_CASE("fork: a child forked while the parent connects gets its cuInit answer at once") {
  testing::TempDir dir;
  const std::string path = dir.File("server.sock");
  const int listener = SilentListener(path);
  REQUIRE(listener >= 0);
  const pid_t test = ::fork();
  REQUIRE(test >= 0);
  if (test == 0) ForkWhileConnecting(listener, path);
  int status = 0;
  REQUIRE(::waitpid(test, &status, 0) == test);
  ::close(listener);
  INFO("exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << " (114: the child hung)");
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

}  // namespace
}  // namespace gpupool::client
