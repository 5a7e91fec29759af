#include "tasks/name_set.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

#include "core/error.h"

namespace taskpool {

namespace {

constexpr uint64_t kNameSeed = 0x6a09e667f3bcc909ULL;
constexpr size_t kPageBytes = 4096;
constexpr size_t kGrowChunkPages = 8;  // pages read at once when the table doubles
constexpr size_t kFirstMemorySlots = 1024;
// Both tables are at most 3/4 full: probe sequences stay short, and a page overflows only by
// chance (256 slots holding 192 on average).
constexpr uint64_t kLoadNumerator = 3;
constexpr uint64_t kLoadDenominator = 4;

// MurmurHash64A (Austin Appleby, public domain): fast, and mixes well enough that fingerprints
// of distinct names collide only by chance.
uint64_t murmur64(std::string_view data, uint64_t seed) {
  constexpr uint64_t kMultiplier = 0xc6a4a7935bd1e995ULL;
  constexpr int kShift = 47;
  uint64_t h = seed ^ (data.size() * kMultiplier);
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t k = 0;
    std::memcpy(&k, data.data() + i, 8);
    k *= kMultiplier;
    k ^= k >> kShift;
    k *= kMultiplier;
    h ^= k;
    h *= kMultiplier;
  }
  if (i < data.size()) {
    uint64_t tail = 0;
    std::memcpy(&tail, data.data() + i, data.size() - i);
    h ^= tail;
    h *= kMultiplier;
  }
  h ^= h >> kShift;
  h *= kMultiplier;
  h ^= h >> kShift;
  return h;
}

// One seed a process, drawn once: no input can be made to heap its names onto one page.
uint64_t process_group_seed() {
  static const uint64_t kSeed = [] {
    std::random_device random;
    return (static_cast<uint64_t>(random()) << 32) ^ random();
  }();
  return kSeed;
}

uint64_t spread(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool over_load(uint64_t count, uint64_t slots) {
  return count * kLoadDenominator > slots * kLoadNumerator;
}

std::string directory_for_spill(const std::string& wanted) {
  if (!wanted.empty()) return wanted;
  const char* dir = std::getenv("TMPDIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

Error spill_error(const std::string& dir, const char* action, int error) {
  return Error(std::string("cannot ") + action + " the temporary table of file names in " + dir +
               ": " + std::strerror(error) + " (set TMPDIR to a directory with room)");
}

// An unlinked file: nothing is left behind however the program ends.
int make_spill_file(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string name = dir + "/taskpool-names-XXXXXX";  // where O_TMPFILE is not supported
  fd = mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) throw spill_error(dir, "create", errno);
  ::unlink(name.c_str());
  return fd;
}

// Reads `size` bytes at `offset`; what lies past the end of the file reads as zeros (empty
// slots): the table is never written in full.
void read_at(int fd, void* data, size_t size, uint64_t offset, const std::string& dir) {
  auto* out = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw spill_error(dir, "read", errno);
    if (n == 0) {
      std::memset(out, 0, size);
      return;
    }
    out += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

void write_at(int fd, const void* data, size_t size, uint64_t offset, const std::string& dir) {
  const auto* in = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, in, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw spill_error(dir, "write", n < 0 ? errno : ENOSPC);
    in += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

}  // namespace

NameSet::NameSet(Options options)
    : options_(std::move(options)),
      group_seed_(process_group_seed()),
      max_memory_slots_(std::bit_floor(
          std::max<size_t>(options_.memory_budget / sizeof(Fingerprint), kFirstMemorySlots))),
      memory_(std::min(kFirstMemorySlots, max_memory_slots_)) {
  options_.spill_dir = directory_for_spill(options_.spill_dir);
}

NameSet::~NameSet() = default;

Fingerprint NameSet::fingerprint(std::string_view name, std::string_view group) const {
  return Fingerprint{murmur64(group, group_seed_), murmur64(name, kNameSeed) | 1};
}

size_t NameSet::memory_slot(const Fingerprint& key) const {
  const size_t mask = memory_.size() - 1;
  size_t i = spread(key.name ^ key.group) & mask;
  while (memory_[i].name != 0 && !(memory_[i] == key)) i = (i + 1) & mask;
  return i;
}

bool NameSet::contains(const Fingerprint& key) {
  if (memory_[memory_slot(key)] == key) return true;
  if (!disk_fd_.valid()) return false;
  const size_t pages = size_t{1} << disk_bits_;
  const size_t home = home_page(key, disk_bits_);
  for (size_t n = 0; n < pages; ++n) {
    const Page& slots = page((home + n) & (pages - 1));
    for (const Fingerprint& slot : slots) {
      if (slot == key) return true;
      if (slot.name == 0) return false;  // pages fill from the front; nothing is removed
    }
  }
  return false;
}

void NameSet::insert(const Fingerprint& key) {
  if (over_load(memory_count_ + 1, memory_.size())) {
    if (memory_.size() < max_memory_slots_) {
      grow_memory();
    } else {
      spill();
    }
  }
  memory_[memory_slot(key)] = key;
  ++memory_count_;
}

size_t NameSet::memory_bytes() const {
  return (memory_.capacity() + cached_page_.capacity() + scratch_.capacity()) * sizeof(Fingerprint);
}

void NameSet::grow_memory() {
  std::vector<Fingerprint> old(memory_.size() * 2);
  old.swap(memory_);
  for (const Fingerprint& key : old) {
    if (key.name != 0) memory_[memory_slot(key)] = key;
  }
}

// Moves every fingerprint in memory to the disk table, page by page in the table's order.
void NameSet::spill() {
  if (!disk_fd_.valid()) disk_fd_.reset(make_spill_file(options_.spill_dir));
  while (over_load(disk_count_ + memory_count_, kSlotsPerPage << disk_bits_)) {
    for (const Fingerprint& key : grow_disk()) disk_insert(key);
  }
  const auto end = std::partition(memory_.begin(), memory_.end(),
                                  [](const Fingerprint& key) { return key.name != 0; });
  std::sort(memory_.begin(), end, [this](const Fingerprint& a, const Fingerprint& b) {
    return home_page(a, disk_bits_) < home_page(b, disk_bits_);
  });
  std::vector<Fingerprint> overflow;  // for a full page: the next ones with room take them
  for (auto run = memory_.begin(); run != end;) {
    const size_t home = home_page(*run, disk_bits_);
    scratch_ = page(home);
    auto free_slot = std::find_if(scratch_.begin(), scratch_.end(),
                                  [](const Fingerprint& slot) { return slot.name == 0; });
    for (; run != end && home_page(*run, disk_bits_) == home; ++run) {
      if (free_slot == scratch_.end()) {
        overflow.push_back(*run);
      } else {
        *free_slot++ = *run;
      }
    }
    write_page(home, scratch_);
    for (const Fingerprint& key : overflow) disk_insert(key);
    overflow.clear();
  }
  disk_count_ += memory_count_;
  memory_count_ = 0;
  std::fill(memory_.begin(), memory_.end(), Fingerprint());
}

size_t NameSet::home_page(const Fingerprint& key, unsigned bits) const {
  return static_cast<size_t>(key.group >> (64 - bits));
}

const NameSet::Page& NameSet::page(size_t index) {
  if (index != cached_index_) {
    cached_page_.resize(kSlotsPerPage);
    read_at(disk_fd_.get(), cached_page_.data(), kPageBytes, uint64_t{index} * kPageBytes,
            options_.spill_dir);
    cached_index_ = index;
  }
  return cached_page_;
}

void NameSet::write_page(size_t index, const Page& data) {
  write_at(disk_fd_.get(), data.data(), kPageBytes, uint64_t{index} * kPageBytes,
           options_.spill_dir);
  if (index == cached_index_) cached_page_ = data;
}

bool NameSet::place(const Fingerprint& key) {
  const size_t pages = size_t{1} << disk_bits_;
  const size_t home = home_page(key, disk_bits_);
  for (size_t n = 0; n < pages; ++n) {
    const size_t index = (home + n) & (pages - 1);
    Page slots = page(index);
    for (Fingerprint& slot : slots) {
      if (slot.name != 0) continue;
      slot = key;
      write_page(index, slots);
      return true;
    }
  }
  return false;
}

void NameSet::disk_insert(const Fingerprint& key) {
  // Every page full cannot happen below the load limit; but never lose a name.
  std::vector<Fingerprint> pending{key};
  while (!pending.empty()) {
    const Fingerprint next = pending.back();
    pending.pop_back();
    if (place(next)) continue;
    pending.push_back(next);
    const std::vector<Fingerprint> strays = grow_disk();
    pending.insert(pending.end(), strays.begin(), strays.end());
  }
}

// Doubles the disk table into a new file: page p's fingerprints go to pages 2p and 2p+1 (by the
// next bit of their group hash), read and written in order. Returns the few that had overflowed
// into a page not their own, for the caller to insert.
std::vector<Fingerprint> NameSet::grow_disk() {
  const unsigned bits = disk_bits_ + 1;
  UniqueFd fd(make_spill_file(options_.spill_dir));
  const size_t old_pages = size_t{1} << disk_bits_;
  std::vector<Fingerprint> in(kGrowChunkPages * kSlotsPerPage);
  std::vector<Fingerprint> out(2 * kGrowChunkPages * kSlotsPerPage);
  std::vector<Fingerprint> strays;
  for (size_t base = 0; base < old_pages; base += kGrowChunkPages) {
    const size_t count = std::min(kGrowChunkPages, old_pages - base);
    read_at(disk_fd_.get(), in.data(), count * kPageBytes, uint64_t{base} * kPageBytes,
            options_.spill_dir);
    std::fill(out.begin(), out.end(), Fingerprint());
    for (size_t p = 0; p < count; ++p) {
      size_t used[2] = {0, 0};
      for (size_t s = 0; s < kSlotsPerPage; ++s) {
        const Fingerprint& key = in[p * kSlotsPerPage + s];
        if (key.name == 0) break;
        if (home_page(key, disk_bits_) != base + p) {
          strays.push_back(key);
          continue;
        }
        const size_t half = home_page(key, bits) & 1;
        out[(2 * p + half) * kSlotsPerPage + used[half]++] = key;
      }
    }
    write_at(fd.get(), out.data(), 2 * count * kPageBytes, uint64_t{2 * base} * kPageBytes,
             options_.spill_dir);
  }
  disk_fd_ = std::move(fd);
  disk_bits_ = bits;
  cached_index_ = SIZE_MAX;
  return strays;
}

}  // namespace taskpool
