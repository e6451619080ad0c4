# Runs one fuzzer for SECONDS on a fresh copy of its seed corpus.
#   -DFUZZER=<binary> -DSEEDS=<dir> -DWORK=<scratch dir> -DSECONDS=<n> [-DDICT=<file>]
# New inputs land in WORK/corpus; a crash leaves WORK/crash-* (kept for reproduction:
# `<binary> WORK/crash-<sha1>`) and fails the test.

file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK}/corpus)
file(GLOB seeds ${SEEDS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${WORK}/corpus)
endif()

set(args -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=25 -print_final_stats=1
         -artifact_prefix=${WORK}/)
if(DICT)
  list(APPEND args -dict=${DICT})
endif()

execute_process(COMMAND ${FUZZER} ${args} ${WORK}/corpus RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(GLOB found ${WORK}/crash-* ${WORK}/leak-* ${WORK}/timeout-* ${WORK}/oom-*)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); reproducers: ${found}")
endif()
