#include "cli/serve/token_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace taskpool {

std::string read_token(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(fmt::format("cannot read the token file {}: {}", path, std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  const auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!token.empty() && blank(static_cast<unsigned char>(token.back()))) token.pop_back();
  token.erase(token.begin(), std::find_if_not(token.begin(), token.end(), [&](char c) {
                return blank(static_cast<unsigned char>(c));
              }));
  if (token.empty()) throw Error(fmt::format("the token file {} is empty", path));
  if (token.find_first_of("\r\n") != std::string::npos) {
    throw Error(fmt::format("the token file {} holds more than one line", path));
  }
  return token;
}

}  // namespace taskpool
