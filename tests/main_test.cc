#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "tasks/guardian.h"

int main(int argc, char** argv) {
  // The guardians the tests start are this program too (tasks/guardian.h).
  taskpool::Guardian::run_if_asked(argc, argv);
  return doctest::Context(argc, argv).run();
}
