// A child process forked before the program starts CUDA, with a pipe each way: what the
// interprocess test programs (driver/driver_ipc.cpp, runtime/ipc.cu) share. Each process then starts
// CUDA on its own, as two processes of an application do.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

struct ChildProcess {
  pid_t pid = -1;
  int to_child = -1;    // the parent's end of the pipe to the child
  int from_child = -1;  // the parent's end of the pipe from the child
};

// Forks; the child runs `body(from_parent, to_parent)` and exits with what it returns (its output
// flushed). False in the parent when the pipes or the fork fail.
template <typename Body>
bool ForkChild(Body body, ChildProcess* child) {
  int down[2], up[2];
  if (pipe(down) != 0 || pipe(up) != 0) return false;
  std::fflush(stdout);
  child->pid = fork();
  if (child->pid < 0) return false;
  if (child->pid == 0) {
    close(down[1]);
    close(up[0]);
    const int code = body(down[0], up[1]);
    std::fflush(stdout);
    std::_Exit(code);
  }
  close(down[0]);
  close(up[1]);
  child->to_child = down[1];
  child->from_child = up[0];
  return true;
}
