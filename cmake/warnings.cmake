# gpupool_target_defaults(<target>): the warning set every gpupool target is built with.
function(gpupool_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough -Wformat=2)
  if(GPUPOOL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
