// The flags' values, area by area (input, grouping, pool and live pool, resilience, reporting,
// fetch, hosts), parsed into RunConfig once CLI11 has split the command line (cli/options.cc);
// then the rules between flags (cli/option_rules.h). No CLI11 here.
#pragma once

#include <string>
#include <vector>

#include "cli/option_flags.h"
#include "cli/options.h"

namespace taskpool {

// Splits the arguments (without the program's name) at the input-source separators (::: ::::,
// and :::+ ::::+ to link a source to the one before): the sources, in order. `options_end` is
// set to the index of the first separator (args.size() when there is none): what comes before
// it is CLI11's. As in GNU parallel, the first separator ends the options and the command.
std::vector<RunConfig::Source> split_sources(const std::vector<std::string>& args,
                                             size_t& options_end);

// Fills `config` from the flags `given` (GNU parallel's -i, -e and -l read as -I, -E and -L) and
// checks the rules between flags. `config` already holds what CLI11 bound to it and the command.
// Throws UsageError naming the flag.
void fill_config(const OptionFlags& given, RunConfig& config);

}  // namespace taskpool
