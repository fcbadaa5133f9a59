# check_core_symbols.cmake -- the core library (patron_core, src/) references no libuv and no
# msgpack-c symbol: it has no event loop and never sees wire objects (DESIGN.md, layers).
# Also: every symbol the core exports (nm -g --defined-only) starts with one of the domain
# prefixes below, so core names never collide with the daemon's, a library's or a shop's.
# Run as a ctest test (core_symbols):
#   cmake -DNM=/usr/bin/nm -DLIB=path/libpatron_core.a -P cmake/check_core_symbols.cmake
# Fails (FATAL_ERROR) listing each offending object file and symbol.
if(NOT NM OR NOT LIB)
  message(FATAL_ERROR "usage: cmake -DNM=<nm> -DLIB=<static library> -P check_core_symbols.cmake")
endif()

# scan_symbols(<nm flags> <line regex> <bad-symbol regex> <negate: 0|1> <out count> <out bad>):
# run nm with the flags, count the symbols whose line matches, and list "object: symbol" for
# those that match (or, negate=1, do not match) the bad-symbol regex.
function(scan_symbols flags line_re bad_re negate out_count out_bad)
  execute_process(COMMAND ${NM} ${flags} ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} ${flags} ${LIB} failed (${rc})")
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  set(object "")
  set(bad "")
  set(n 0)
  foreach(line IN LISTS lines)
    if(line MATCHES "^(.+\\.o):$")
      set(object "${CMAKE_MATCH_1}")
    elseif(line MATCHES "${line_re}")
      set(symbol "${CMAKE_MATCH_1}")
      math(EXPR n "${n} + 1")
      set(hit 0)
      if(symbol MATCHES "${bad_re}")
        set(hit 1)
      endif()
      if(NOT hit EQUAL negate)
        string(APPEND bad "\n  ${object}: ${symbol}")
      endif()
    endif()
  endforeach()
  if(n EQUAL 0)
    message(FATAL_ERROR "${NM} ${flags} ${LIB} listed no symbol at all: not a real check")
  endif()
  set(${out_count} ${n} PARENT_SCOPE)
  set(${out_bad} "${bad}" PARENT_SCOPE)
endfunction()

scan_symbols("-u" "^ +U +([A-Za-z_][A-Za-z0-9_]*)" "^(uv_|msgpack_)" 0 nundef bad)
if(bad)
  message(FATAL_ERROR "the core library must not reference libuv or msgpack-c:${bad}")
endif()

# Exported names: one prefix per domain or shared helper (see src/*/README.md).
set(prefixes arena_ vec_ perr_ rcache_ clock_ utf8_ utf16_ store_ rec_ file_ core_ scan_
    feedback_ merge_ clv_ rfm_ kpi_ analytics_ recs_ experiment_ stats_ bandit_ condition_
    loyalty_ loy_ offers_ offer_)
string(REPLACE ";" "|" prefix_re "${prefixes}")
scan_symbols("-g;--defined-only" "^[0-9a-f]+ +[TDBR] +([A-Za-z_][A-Za-z0-9_]*)"
             "^(${prefix_re})" 1 ndef unprefixed)
if(unprefixed)
  message(FATAL_ERROR "core symbols without a domain prefix (${prefixes}):${unprefixed}")
endif()
message(STATUS "core_symbols: ${ndef} exported symbols, all prefixed")
message(STATUS "core_symbols: ${nundef} undefined references in ${LIB}, none to uv_/msgpack_")
