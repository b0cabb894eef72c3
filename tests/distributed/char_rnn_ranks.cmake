# char_rnn --distributed end to end, tiny and without dropout: 2 ranks print
# the reports one process prints, only rank 0 prints and samples, and a
# checkpoint resumes across rank counts (2 ranks -> 1 process, 1 process ->
# 2 ranks) exactly where an uninterrupted one-process run would be. Short
# windows, a high learning rate and 21 steps before the checkpoint make the
# carried state show in the printed digits: resuming with the wrong columns
# of it, or with another rank's columns left out, changes the report.
#   cmake -DPROGRAM=<char_rnn> -P char_rnn_ranks.cmake -- <mpiexec ... char_rnn ...>
# Runs in the current directory, where it writes its checkpoints.
set(mpi_program)
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND mpi_program "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
if(NOT PROGRAM OR NOT mpi_program)
  message(FATAL_ERROR "usage: cmake -DPROGRAM=<char_rnn> -P char_rnn_ranks.cmake -- <mpiexec ...>")
endif()

set(flags --hidden 16 --embed 8 --bptt 4 --batch 4 --lr 0.03 --dropout 0 --eval-every 3
          --sample-length 20 --samples 1)
file(REMOVE one.safetensors ranks.safetensors)

# Runs one job; sets <name>_output and <name>_<step> to each report line
# without its time, e.g. one_4 "step     4  epoch ... (unigram 4.509)".
function(run name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  message("${name}:\n${out}${err}")
  if(NOT status EQUAL 0)
    string(JOIN " " command ${ARGN})
    message(FATAL_ERROR "${name} exited with ${status}: ${command}")
  endif()
  set(${name}_output "${out}" PARENT_SCOPE)
  string(REGEX MATCHALL "step +[0-9]+  epoch [^\n]*\\(unigram [0-9.]+\\)" reports "${out}")
  foreach(report IN LISTS reports)
    string(REGEX REPLACE "^step +([0-9]+) .*" "\\1" step "${report}")
    set(${name}_${step} "${report}" PARENT_SCOPE)
  endforeach()
endfunction()

function(expect_same a b)
  if(NOT DEFINED ${a} OR NOT "${${a}}" STREQUAL "${${b}}")
    message(FATAL_ERROR "${a} and ${b} differ:\n  '${${a}}'\n  '${${b}}'")
  endif()
endfunction()

run(whole ${PROGRAM} ${flags} --steps 24)
run(one ${PROGRAM} ${flags} --steps 21 --checkpoint one.safetensors)
run(ranks ${mpi_program} --distributed ${flags} --steps 21 --checkpoint ranks.safetensors)
run(ranks_from_one ${mpi_program} --distributed ${flags} --steps 24 --resume one.safetensors)
run(one_from_ranks ${PROGRAM} ${flags} --steps 24 --resume ranks.safetensors)

# Rank 0 alone prints, once.
foreach(line "\\| 2 ranks\n" "unigram baseline" "resumed from" "samples \\(")
  string(REGEX MATCHALL "${line}" found "${ranks_from_one_output}")
  list(LENGTH found count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "the 2-rank job printed '${line}' ${count} times instead of once")
  endif()
endforeach()

foreach(step RANGE 3 21 3)
  expect_same(ranks_${step} whole_${step})
  expect_same(one_${step} whole_${step})
endforeach()
expect_same(ranks_from_one_24 whole_24)
expect_same(one_from_ranks_24 whole_24)
