// OutputCapture (remoting/server/output_capture.h) on a file descriptor of the test's own: what is
// written to it comes back from Take in order; the buffer is bounded and the excess counted; the
// writer never blocks, even with nobody taking; the flush hook runs before each Take.
#include "remoting/server/output_capture.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

namespace gpupool::server {
namespace {

// A descriptor the capture may take over (it points it at its pipe).
struct Fd {
  int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ~Fd() { ::close(fd); }
};

bool WriteAll(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

TEST_CASE("output capture returns what was written, in order, after flushing the writer") {
  Fd target;
  REQUIRE(target.fd >= 0);
  int flushes = 0;
  auto capture = OutputCapture::Start(target.fd, 1 << 20, [&] { ++flushes; });
  REQUIRE(capture.ok());
  std::string text;
  std::uint64_t dropped = 99;
  (*capture)->Take(&text, &dropped);
  CHECK(text.empty());
  CHECK(dropped == 0);
  CHECK(flushes == 1);
  REQUIRE(WriteAll(target.fd, "first line\n"));
  REQUIRE(WriteAll(target.fd, "second line\n"));
  (*capture)->Take(&text, &dropped);
  CHECK(text == "first line\nsecond line\n");
  CHECK(dropped == 0);
  CHECK(flushes == 2);
}

TEST_CASE("output capture keeps at most its limit, counts the rest, and never blocks the writer") {
  Fd target;
  REQUIRE(target.fd >= 0);
  const std::size_t limit = 100000;
  auto capture = OutputCapture::Start(target.fd, limit, nullptr);
  REQUIRE(capture.ok());
  // 16 MiB, far more than a pipe holds, written while nobody calls Take: the capture's thread
  // drains the pipe, so every write completes.
  std::string bytes(16u << 20, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>('a' + i % 26);
  REQUIRE(WriteAll(target.fd, bytes));
  std::string text;
  std::uint64_t dropped = 0;
  (*capture)->Take(&text, &dropped);
  CHECK(text == bytes.substr(0, limit));
  CHECK(dropped == bytes.size() - limit);
  // Taken: room again, and the count starts over.
  REQUIRE(WriteAll(target.fd, "more\n"));
  text.clear();
  (*capture)->Take(&text, &dropped);
  CHECK(text == "more\n");
  CHECK(dropped == 0);
}

TEST_CASE("a full output capture keeps whole lines and drops the rest until the next take") {
  Fd target;
  REQUIRE(target.fd >= 0);
  auto capture = OutputCapture::Start(target.fd, 25, nullptr);
  REQUIRE(capture.ok());
  // 10-byte lines: the buffer of 25 holds two whole lines; the third is cut, so it goes with the rest.
  REQUIRE(WriteAll(target.fd, "line 0001\nline 0002\nline 0003\n"));
  REQUIRE(WriteAll(target.fd, "line 0004\n"));  // after the cut: dropped though there is room
  std::string text;
  std::uint64_t dropped = 0;
  (*capture)->Take(&text, &dropped);
  CHECK(text == "line 0001\nline 0002\n");
  CHECK(dropped == 20);
  REQUIRE(WriteAll(target.fd, "line 0005\n"));
  text.clear();
  (*capture)->Take(&text, &dropped);
  CHECK(text == "line 0005\n");
  CHECK(dropped == 0);
}

TEST_CASE("after the capture ends, writes to its descriptor go nowhere instead of blocking") {
  Fd target;
  REQUIRE(target.fd >= 0);
  {
    auto capture = OutputCapture::Start(target.fd, 10, nullptr);
    REQUIRE(capture.ok());
  }
  CHECK(WriteAll(target.fd, std::string(1u << 20, 'x')));
}

}  // namespace
}  // namespace gpupool::server
