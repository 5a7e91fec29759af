// A set of names in bounded memory, for the names the downloads of a run have taken: millions of
// URLs must not hold their names in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.h"

namespace taskpool {

// A name as the set keeps it: a 64-bit hash of its group and a 64-bit hash of the name itself.
// Names of one group share a page of the on-disk table, so looking up several names of a group
// reads one page.
struct Fingerprint {
  uint64_t group = 0;
  uint64_t name = 0;  // never 0: 0 marks an empty slot
  bool operator==(const Fingerprint&) const = default;
};

// Fingerprints (128 bits: two names taken for one another is an odds of about n^2 / 2^128, and
// would only give a download a suffix it did not need) in memory up to a budget; past it, all of
// them move to an on-disk hash table in an unlinked temporary file, and memory starts empty
// again. Memory stays within the budget and a few fixed buffers (memory_bytes()), whatever the
// count; a lookup past the spill reads one 4 KiB page (the page cache keeps the table's hot part).
// The group hash has a seed drawn for each process, so no input can heap its names onto one page.
// Not thread-safe.
class NameSet {
 public:
  struct Options {
    size_t memory_budget = 2 << 20;  // bytes of fingerprints in memory (at least 16 KiB)
    std::string spill_dir;           // the temporary file's directory; "": $TMPDIR, else /tmp
  };

  NameSet() : NameSet(Options()) {}
  explicit NameSet(Options options);
  ~NameSet();
  NameSet(const NameSet&) = delete;
  NameSet& operator=(const NameSet&) = delete;

  Fingerprint fingerprint(std::string_view name, std::string_view group) const;
  // Throw Error when the temporary file cannot be made, read or written (a full disk).
  bool contains(const Fingerprint& key);
  void insert(const Fingerprint& key);  // REQUIRES: !contains(key)

  uint64_t size() const { return memory_count_ + disk_count_; }
  bool spilled() const { return disk_fd_.valid(); }
  // The heap this set holds: its memory table and its buffers.
  size_t memory_bytes() const;

 private:
  static constexpr size_t kSlotsPerPage = 256;  // a 4 KiB page of 16-byte fingerprints
  using Page = std::vector<Fingerprint>;

  size_t memory_slot(const Fingerprint& key) const;
  void grow_memory();
  void spill();
  size_t home_page(const Fingerprint& key, unsigned bits) const;
  const Page& page(size_t index);
  void write_page(size_t index, const Page& data);
  bool place(const Fingerprint& key);  // false: every page is full
  void disk_insert(const Fingerprint& key);
  std::vector<Fingerprint> grow_disk();

  Options options_;
  uint64_t group_seed_;
  size_t max_memory_slots_;
  std::vector<Fingerprint> memory_;  // open addressing, a power of two long
  uint64_t memory_count_ = 0;
  UniqueFd disk_fd_;
  unsigned disk_bits_ = 4;  // the table has 2^disk_bits_ pages
  uint64_t disk_count_ = 0;
  Page cached_page_;  // the page read last, for lookups of one group in a row
  size_t cached_index_ = SIZE_MAX;
  Page scratch_;  // a page being changed
};

}  // namespace taskpool
