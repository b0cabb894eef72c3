# Installs a tapegrad build into a fresh prefix, then configures, builds and
# runs tests/install/consumer against it, as a user's project would.
#   cmake -DBUILD_DIR=<tapegrad build> -DWORK_DIR=<scratch> -DCONFIG=<build type>
#         -DCXX=<compiler> [-DLAUNCHER=<compiler launcher>] -P build_consumer.cmake
foreach(var BUILD_DIR WORK_DIR CONFIG CXX)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "build_consumer.cmake needs -D${var}=...")
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
set(launcher "")
if(LAUNCHER)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
run("consumer configure" ${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR}/consumer -B ${consumer_build}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=${CONFIG} -DCMAKE_CXX_COMPILER=${CXX}
    ${launcher})
run("consumer build" ${CMAKE_COMMAND} --build ${consumer_build} --config ${CONFIG})
run("consumer" ${consumer_build}/consumer)
