// A thin RAII layer over SQLite's C API for the job server's store: a connection and prepared
// statements, with errors as taskpool::Error naming the database file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace taskpool {

// One connection. Not thread-safe (opened without SQLite's mutexes: the store has one thread).
class Database final {
 public:
  // Opens (creating) the database at `path`. Throws Error naming `path` when it cannot.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements that return no rows. Throws Error.
  void exec(const char* sql);
  // The error for the last failed call: "PATH: WHAT: SQLite's message".
  [[nodiscard]] std::string error(std::string_view what) const;

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }
  int64_t changes() const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

// One prepared statement, reset after each use. Columns and parameters count from 0 and 1, as
// in SQLite.
class Statement final {
 public:
  Statement(Database& db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);
  Statement& bind_null(int index);

  // Steps once: true when a row is there to read, false when done. Throws Error.
  bool step();
  // Steps to the end (a statement that returns no rows) and resets. Throws Error.
  void run();
  // Clears the bindings and makes the statement ready to run again.
  void reset();

  int64_t integer(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  bool is_null(int column) const;

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when the scope that used it ends, even by an exception.
class StatementUse final {
 public:
  explicit StatementUse(Statement& statement) : statement_(statement) {}
  ~StatementUse() { statement_.reset(); }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;
  Statement* operator->() const { return &statement_; }

 private:
  Statement& statement_;
};

}  // namespace taskpool
