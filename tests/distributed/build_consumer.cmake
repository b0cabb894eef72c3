# Installs a tapegrad build with MPI into a fresh prefix, checks that the
# package's main export does not mention MPI (tapegrad::tapegrad stays free of
# it), then builds tests/distributed/consumer against the prefix, asking for
# the distributed component, and runs it under mpiexec.
#   cmake -DBUILD_DIR=<tapegrad build> -DWORK_DIR=<scratch> -DCONFIG=<build type>
#         -DCXX=<compiler> [-DLAUNCHER=<compiler launcher>] -P build_consumer.cmake
#         -- <mpiexec -n 2 ...>
foreach(var BUILD_DIR WORK_DIR CONFIG CXX)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "build_consumer.cmake needs -D${var}=...")
  endif()
endforeach()
set(mpiexec)
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND mpiexec "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/build)
# A stale prefix could hide a file the install no longer provides.
file(REMOVE_RECURSE ${prefix} ${consumer_build})

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    string(JOIN " " command ${ARGN})
    message(FATAL_ERROR "${what} failed (${status}): ${command}")
  endif()
endfunction()

run("install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --config ${CONFIG} --prefix ${prefix})
file(GLOB_RECURSE main_export ${prefix}/*/tapegradTargets.cmake)
file(GLOB_RECURSE distributed_export ${prefix}/*/tapegradDistributedTargets.cmake)
if(NOT main_export OR NOT distributed_export)
  message(FATAL_ERROR "the install lacks tapegradTargets.cmake or tapegradDistributedTargets.cmake")
endif()
file(READ ${main_export} main_targets)
if(main_targets MATCHES "MPI|distributed")
  message(FATAL_ERROR "${main_export} mentions MPI or distributed/: tapegrad::tapegrad must not")
endif()

set(launcher "")
if(LAUNCHER)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
run("consumer configure" ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/consumer -B ${consumer_build}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_CXX_COMPILER=${CXX}
    ${launcher})
run("consumer build" ${CMAKE_COMMAND} --build ${consumer_build} --config ${CONFIG})
run("consumer" ${mpiexec} ${consumer_build}/consumer)
