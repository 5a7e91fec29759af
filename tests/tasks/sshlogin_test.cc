#include "tasks/sshlogin.h"

#include <doctest/doctest.h>

#include <string>

#include "core/error.h"

namespace taskpool {
namespace {

std::string error_of(std::string_view list) {
  try {
    parse_sshlogins("-S", list);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

TEST_CASE("sshlogins in GNU parallel's syntax") {
  const auto logins = parse_sshlogins("-S", "8/build1,alice@build2:2222,:,2/:,[::1]:22,fe80::1");
  REQUIRE(logins.size() == 6);
  CHECK(logins[0].workers == 8);
  CHECK(logins[0].host == "build1");
  CHECK(logins[0].text == "build1");
  CHECK_FALSE(logins[0].local);
  CHECK(logins[1].user == "alice");
  CHECK(logins[1].host == "build2");
  CHECK(logins[1].port == 2222);
  CHECK(logins[1].workers == 0);
  CHECK(logins[1].text == "alice@build2:2222");
  CHECK(logins[2].local);
  CHECK(logins[3].local);
  CHECK(logins[3].workers == 2);
  CHECK(logins[4].host == "::1");
  CHECK(logins[4].port == 22);
  CHECK(logins[5].host == "fe80::1");
  CHECK(logins[5].port == 0);
}

TEST_CASE("blanks around an entry are allowed") {
  const auto logins = parse_sshlogins("-S", " a , 4/b ");
  REQUIRE(logins.size() == 2);
  CHECK(logins[0].host == "a");
  CHECK(logins[1].host == "b");
  CHECK(logins[1].workers == 4);
}

TEST_CASE("malformed sshlogins are errors naming the entry") {
  CHECK(error_of("") == "-S: the list of hosts is empty");
  CHECK(error_of("a,,b") == "-S: an empty sshlogin");
  CHECK(error_of("0/a").find("'0' before '/' is not a number of workers") != std::string::npos);
  CHECK(error_of("x/a").find("'x' before '/'") != std::string::npos);
  CHECK(error_of("a:99999").find("'99999' is not a port") != std::string::npos);
  CHECK(error_of("a:").find("the port after ':' is empty") != std::string::npos);
  CHECK(error_of("@a").find("the user is empty") != std::string::npos);
  CHECK(error_of("u@").find("the host is empty") != std::string::npos);
  // ssh would read these as options, not as a host.
  CHECK(error_of("-oProxyCommand=x").find("no leading '-'") != std::string::npos);
  CHECK(error_of("-x@a").find("is not a user") != std::string::npos);
  CHECK(error_of("ssh -p 2 host").find("no blanks") != std::string::npos);
  CHECK(error_of("[::1").find("no ']'") != std::string::npos);
  CHECK(error_of("-S 8/").find("'-S 8/'") != std::string::npos);
}

TEST_CASE("an sshloginfile: one a line, comments and blank lines ignored") {
  const auto logins =
      parse_sshlogin_file("# build farm\n4/build1\n\n  build2  # the slow one\r\n:,b3\n", "hosts");
  REQUIRE(logins.size() == 4);
  CHECK(logins[0].workers == 4);
  CHECK(logins[1].host == "build2");
  CHECK(logins[2].local);
  CHECK(logins[3].host == "b3");
}

TEST_CASE("sshloginfile errors name the file and the line") {
  try {
    parse_sshlogin_file("a\n\nb c\n", "hosts.txt");
    FAIL("no error");
  } catch (const UsageError& e) {
    CHECK(std::string(e.what()).starts_with("--sshloginfile: 'hosts.txt' line 3: 'b c'"));
  }
  CHECK_THROWS_WITH_AS(parse_sshlogin_file("# nothing\n", "h"), "--sshloginfile: 'h' lists no host",
                       UsageError);
  CHECK_THROWS_WITH_AS(
      read_sshlogin_file("/nonexistent/hosts"),
      "--sshloginfile: cannot read '/nonexistent/hosts': No such file or directory", UsageError);
}

TEST_CASE("duplicate sshlogins are dropped, the first kept") {
  auto logins = without_duplicates(parse_sshlogins("-S", "a,2/a,b,:,4/:,u@a"));
  REQUIRE(logins.size() == 4);
  CHECK(logins[0].host == "a");
  CHECK(logins[0].workers == 0);
  CHECK(logins[1].host == "b");
  CHECK(logins[2].local);
  CHECK(logins[3].user == "u");
}

}  // namespace
}  // namespace taskpool
