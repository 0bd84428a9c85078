// IpcDirectory: fixed entries in a shared block, each a small seqlock.
#include "remoting/server/ipc_directory.h"

#include <sys/random.h>

#include <array>
#include <cstring>
#include <new>

namespace gpupool::server {
namespace {

constexpr std::size_t kBytes = sizeof(IpcEntry) * IpcDirectory::kEntries;
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared entries must be lock-free");

using Words = std::array<std::uint64_t, IpcEntry::kOwnerWords>;

bool OwnerWords(std::string_view owner, Words* words) {
  if (owner.size() > sizeof(Words)) return false;
  words->fill(0);
  std::memcpy(words->data(), owner.data(), owner.size());
  return true;
}

bool RandomToken(IpcToken* token) {
  std::uint64_t bits[2] = {};
  if (getrandom(bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits)) return false;
  *token = {bits[0], bits[1] | 1};  // never all zero: a cleared entry's token
  return true;
}

}  // namespace

Result<IpcDirectory> IpcDirectory::Create() {
  GPUPOOL_ASSIGN_OR_RETURN(SharedMemory memory, SharedMemory::Create("gpupool-ipc", kBytes));
  new (memory.data()) IpcEntry[kEntries]();
  return IpcDirectory(std::move(memory));
}

Result<IpcDirectory> IpcDirectory::Map(int fd) {
  GPUPOOL_ASSIGN_OR_RETURN(SharedMemory memory, SharedMemory::Map(fd, kBytes));
  return IpcDirectory(std::move(memory));
}

bool IpcDirectory::Publish(const IpcExport& what, std::string_view owner, IpcToken* token) {
  Words words;
  if (what.session == 0 || !OwnerWords(owner, &words) || !RandomToken(token)) return false;
  for (std::uint32_t i = 0; i < kEntries; ++i) {
    IpcEntry& e = entries_[i];
    std::uint64_t free = 0;
    if (e.session.load(std::memory_order_relaxed) != 0 ||
        !e.session.compare_exchange_strong(free, what.session))
      continue;
    const std::uint64_t sequence = e.sequence.load(std::memory_order_relaxed);
    e.sequence.store(sequence + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    e.kind.store(static_cast<std::uint64_t>(what.kind), std::memory_order_relaxed);
    e.size.store(what.size, std::memory_order_relaxed);
    for (std::size_t w = 0; w < words.size(); ++w) e.owner[w].store(words[w], std::memory_order_relaxed);
    for (std::size_t w = 0; w < 8; ++w) {
      std::uint64_t word = 0;
      std::memcpy(&word, what.handle + w * 8, 8);
      e.handle[w].store(word, std::memory_order_relaxed);
    }
    e.token_high.store(token->high, std::memory_order_relaxed);
    e.token_low.store(token->low, std::memory_order_relaxed);
    e.sequence.store(sequence + 2, std::memory_order_release);
    return true;
  }
  return false;
}

IpcDirectory::Found IpcDirectory::Lookup(const IpcToken& token, IpcKind kind, std::string_view owner,
                                         IpcExport* out) const {
  Words words;
  // All zero is a free entry's token, never a live one's (RandomToken).
  if ((token.high == 0 && token.low == 0) || !OwnerWords(owner, &words)) return Found::kNo;
  for (std::uint32_t i = 0; i < kEntries; ++i) {
    const IpcEntry& e = entries_[i];
    const std::uint64_t before = e.sequence.load(std::memory_order_acquire);
    if ((before & 1) != 0 || e.session.load(std::memory_order_relaxed) == 0) continue;
    if (e.token_high.load(std::memory_order_relaxed) != token.high ||
        e.token_low.load(std::memory_order_relaxed) != token.low)
      continue;
    IpcExport copy;
    const std::uint64_t entry_kind = e.kind.load(std::memory_order_relaxed);
    copy.kind = static_cast<IpcKind>(entry_kind);
    copy.session = e.session.load(std::memory_order_relaxed);
    copy.size = e.size.load(std::memory_order_relaxed);
    bool owner_matches = true;
    for (std::size_t w = 0; w < words.size(); ++w)
      owner_matches = owner_matches && e.owner[w].load(std::memory_order_relaxed) == words[w];
    for (std::size_t w = 0; w < 8; ++w) {
      const std::uint64_t word = e.handle[w].load(std::memory_order_relaxed);
      std::memcpy(copy.handle + w * 8, &word, 8);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    // Changed while copied: it was being withdrawn (the token is never filed twice).
    if (e.sequence.load(std::memory_order_relaxed) != before) return Found::kNo;
    if (entry_kind != static_cast<std::uint64_t>(kind)) return Found::kNo;
    if (!owner_matches) return Found::kNotOwner;
    *out = copy;
    return Found::kYes;
  }
  return Found::kNo;
}

void IpcDirectory::Clear(IpcEntry& e) {
  // Odd already when its worker died half-way through Publish.
  const std::uint64_t odd = e.sequence.load(std::memory_order_relaxed) | 1;
  e.sequence.store(odd, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  e.token_high.store(0, std::memory_order_relaxed);
  e.token_low.store(0, std::memory_order_relaxed);
  e.kind.store(0, std::memory_order_relaxed);
  e.size.store(0, std::memory_order_relaxed);
  for (auto& word : e.owner) word.store(0, std::memory_order_relaxed);
  for (auto& word : e.handle) word.store(0, std::memory_order_relaxed);
  e.sequence.store(odd + 1, std::memory_order_release);
  e.session.store(0, std::memory_order_release);  // last: only now may another export take it
}

void IpcDirectory::Withdraw(std::uint64_t session, const IpcToken& token) {
  for (std::uint32_t i = 0; i < kEntries; ++i) {
    IpcEntry& e = entries_[i];
    if (session != 0 && e.session.load() == session && e.token_high.load() == token.high &&
        e.token_low.load() == token.low) {
      Clear(e);
      return;
    }
  }
}

void IpcDirectory::WithdrawSession(std::uint64_t session) {
  if (session == 0) return;
  for (std::uint32_t i = 0; i < kEntries; ++i) {
    if (entries_[i].session.load() == session) Clear(entries_[i]);
  }
}

std::uint32_t IpcDirectory::Count() const {
  std::uint32_t live = 0;
  for (std::uint32_t i = 0; i < kEntries; ++i) live += entries_[i].session.load() != 0 ? 1 : 0;
  return live;
}

}  // namespace gpupool::server
