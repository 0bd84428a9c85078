// A child process forked before the program starts CUDA, with a socket to its parent: what the
// interprocess test programs (driver/driver_ipc.cpp, runtime/ipc.cu) share. Each process then starts
// CUDA on its own, as two processes of an application do. The socket keeps message boundaries
// (SOCK_SEQPACKET) and carries file descriptors.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

struct ChildProcess {
  pid_t pid = -1;
  int socket = -1;  // the parent's end
};

// Forks; the child runs `body(socket)` and exits with what it returns (its output flushed). False in
// the parent when the socket or the fork fails.
template <typename Body>
bool ForkChild(Body body, ChildProcess* child) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) != 0) return false;
  std::fflush(stdout);
  child->pid = fork();
  if (child->pid < 0) return false;
  if (child->pid == 0) {
    close(pair[0]);
    const int code = body(pair[1]);
    std::fflush(stdout);
    std::_Exit(code);
  }
  close(pair[1]);
  child->socket = pair[0];
  return true;
}

// One message of exactly `n` bytes.
inline bool SendMessage(int socket, const void* data, std::size_t n) {
  return send(socket, data, n, 0) == static_cast<ssize_t>(n);
}
inline bool ReceiveMessage(int socket, void* data, std::size_t n) {
  return recv(socket, data, n, 0) == static_cast<ssize_t>(n);
}

// A one-byte message with room for one descriptor (SCM_RIGHTS).
struct DescriptorMessage {
  char byte = 'f';
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  DescriptorMessage() {
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
  }
  DescriptorMessage(const DescriptorMessage&) = delete;
  DescriptorMessage& operator=(const DescriptorMessage&) = delete;
};

// A file descriptor, as processes pass the descriptors of exported memory.
inline bool SendDescriptor(int socket, int fd) {
  DescriptorMessage m;
  cmsghdr* header = CMSG_FIRSTHDR(&m.message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  return sendmsg(socket, &m.message, 0) == 1;
}
inline int ReceiveDescriptor(int socket) {
  DescriptorMessage m;
  if (recvmsg(socket, &m.message, 0) != 1) return -1;
  cmsghdr* header = CMSG_FIRSTHDR(&m.message);
  if (header == nullptr || header->cmsg_type != SCM_RIGHTS) return -1;
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
  return fd;
}
