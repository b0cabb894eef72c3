# Runs an MPI job that must fail, and passes if it ends by itself (no time
# limit reached) with a nonzero code and output that matches EXPECT.
#   cmake -DMPIEXEC=... -DNP=2 -DPROGRAM=... -DMODE=... -DEXPECT=<regex>
#         [-DTIMEOUT_PROGRAM=/usr/bin/timeout] -P expect_job_failure.cmake
set(limit 45)
set(command ${MPIEXEC} -n ${NP} ${PROGRAM} ${MODE})
if(TIMEOUT_PROGRAM)
  # timeout's SIGTERM lets mpiexec take its ranks down with it.
  set(command ${TIMEOUT_PROGRAM} --kill-after=5 ${limit} ${command})
endif()
string(TIMESTAMP start "%s")
execute_process(COMMAND ${command} OUTPUT_VARIABLE output ERROR_VARIABLE output
                RESULT_VARIABLE code TIMEOUT 55)
string(TIMESTAMP end "%s")
math(EXPR seconds "${end} - ${start}")
message("${output}")
message("exit code ${code} after ${seconds} s")
if(code STREQUAL "0")
  message(FATAL_ERROR "the job succeeded although a rank failed")
endif()
# A killed rank makes mpiexec exit with 128 + 9 too, so the clock decides.
if(code STREQUAL "124" OR seconds GREATER_EQUAL limit OR NOT code MATCHES "^[0-9]+$")
  message(FATAL_ERROR "the job hung until it was stopped (${code})")
endif()
if(NOT output MATCHES "${EXPECT}")
  message(FATAL_ERROR "the output does not say what happened: expected a match for '${EXPECT}'")
endif()
