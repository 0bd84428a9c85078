// gpupool run: runs a program with gpupool's libcuda.so.1 against a server (docs/cli.md).
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/local_server.h"
#include "cli/run_flags.h"

namespace gpupool::cli {
namespace {

constexpr int kExitNotFound = 127;

// The client library: next to the gpupool binary in ../lib, else the install location.
std::string FindClientDir() {
  const std::filesystem::path beside = std::filesystem::path(ExecutableDir()) / ".." / "lib";
  if (std::filesystem::exists(beside / "libcuda.so.1"))
    return std::filesystem::weakly_canonical(beside).string();
  if (std::filesystem::exists("/opt/gpupool/lib/libcuda.so.1")) return "/opt/gpupool/lib";
  return "";
}

void SetClientEnvironment(const std::string& client_dir, const std::string& server, const RunFlags& flags) {
  const char* old = std::getenv("LD_LIBRARY_PATH");
  const std::string path = old != nullptr && *old != '\0' ? client_dir + ":" + old : client_dir;
  setenv("LD_LIBRARY_PATH", path.c_str(), 1);
  setenv("GPUPOOL_SERVER", server.c_str(), 1);
  if (!flags.token_file.empty()) setenv("GPUPOOL_TOKEN_FILE", flags.token_file.c_str(), 1);
  if (!flags.tls_ca_file.empty()) setenv("GPUPOOL_TLS_CA_FILE", flags.tls_ca_file.c_str(), 1);
  if (!flags.tls_server_name.empty()) setenv("GPUPOOL_TLS_SERVER_NAME", flags.tls_server_name.c_str(), 1);
}

[[noreturn]] void Exec(const std::vector<std::string>& command) {
  std::vector<char*> argv;
  for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  const int error = errno;
  std::fprintf(stderr, "gpupool run: %s: %s\n", command[0].c_str(), std::strerror(error));
  _exit(error == ENOENT ? kExitNotFound : 126);
}

// Runs the command as a child and returns its exit status (128 + signal when killed).
int RunChild(const std::vector<std::string>& command) {
  // The terminal's Ctrl-C reaches the child directly; we stay alive to stop the server after it.
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  const pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "gpupool run: fork: %s\n", std::strerror(errno));
    return kExitFailure;
  }
  if (pid == 0) {
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    Exec(command);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : kExitFailure;
}

}  // namespace

int RunCommand(const std::vector<std::string>& args) {
  auto flags = ParseRunFlags(args);
  if (!flags.ok()) {
    std::fprintf(stderr, "gpupool run: %s\n", flags.status().message().c_str());
    return kExitUsage;
  }
  if (flags->help) {
    std::fputs(RunHelp(), stdout);
    return kExitOk;
  }
  const std::string client_dir = FindClientDir();
  if (client_dir.empty()) {
    std::fprintf(stderr,
                 "gpupool run: gpupool's libcuda.so.1 is neither in %s/../lib nor in /opt/gpupool/lib\n",
                 ExecutableDir().c_str());
    return kExitFailure;
  }
  if (!flags->server.empty()) {
    SetClientEnvironment(client_dir, flags->server, *flags);
    Exec(flags->command);
  }
  LocalServerOptions options;
  options.binary = ExecutableDir() + "/gpupool-server";
  options.device = HasNvidiaGpu() ? "cuda" : "emulated";
  options.gpus = flags->gpus;
  options.memory_bytes = flags->memory_bytes;
  options.percent = flags->percent;
  std::fprintf(stderr, "gpupool run: starting a local gpupool-server on the %s device\n",
               options.device == "cuda" ? "machine's GPU (cuda)" : "emulated (no NVIDIA GPU found)");
  auto server = LocalServer::Start(options);
  if (!server.ok()) {
    std::fprintf(stderr, "gpupool run: %s\n", server.status().message().c_str());
    return kExitFailure;
  }
  SetClientEnvironment(client_dir, (*server)->address(), *flags);
  return RunChild(flags->command);
}

}  // namespace gpupool::cli
