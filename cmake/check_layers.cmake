# check_layers.cmake -- the include rules between the layers (docs/ARCHITECTURE.md):
#   1. src/ (the core) includes nothing from protocol/ or daemon/, and neither <uv.h> nor
#      <msgpack.h>: no loop, no wire objects in the core;
#   2. protocol/ includes nothing from daemon/;
#   3. adapters/ includes nothing from src/ or daemon/ (the client library speaks the wire);
#   4. a domain's *_internal.h (src/<domain>/x_internal.h) is included only by files of that
#      folder (exceptions: PATRON_INTERNAL_HEADER_EXCEPTIONS below, each with its reason);
#   5. every src/<domain>/ folder says what it owns: a README.md of 2 to 5 lines (or, without
#      one, each public header opens with "/* name.h -- what it owns" over two lines or more).
# Which folder a quoted include comes from is resolved the way the build finds it: the
# including file's own folder first, then src/ (the core's include root), protocol/,
# daemon/, adapters/c/. So the forbidden names are derived from the files in those folders
# (methods.h, methods.def, rpc.h, guard.h, params.h, daemon.h, config.h, log.h, ...), never
# listed by hand.
# Runs at configure time (included from the top CMakeLists.txt: a violation stops cmake) and
# as the ctest test `layers`:  cmake -DPATRON_ROOT=<source dir> -P cmake/check_layers.cmake

cmake_policy(SET CMP0057 NEW) # if(... IN_LIST ...) in script mode

# White-box tests allowed to include a domain's internal header, as "including-file|header".
set(PATRON_INTERNAL_HEADER_EXCEPTIONS
    # a verbatim reference copy of the pre-optimisation scorer, compared answer for answer
    # with src/recs/recs_score.c: it needs the delta's internal accumulate interface
    "tests/unit/test_recs_score_ref.c|src/recs/recs_delta_internal.h"
    # offers.decide's shortcuts checked against the paths they replace: which $regex patterns
    # skip PCRE2 (condition_regex_literal), and the counter memo under an unchanged snapshot
    "tests/unit/test_offers_fastpath.c|src/offers/condition_internal.h"
    "tests/unit/test_offers_fastpath.c|src/offers/offers_internal.h"
    # the answer path's shortcuts (token versions, direct packing) against the paths they replace
    "tests/unit/test_offers_answer.c|src/offers/offers_internal.h"
    # the LMDB backend's key compare against LMDB's default order
    "tests/unit/test_store_keyorder.c|src/store/store_internal.h")

function(patron_check_layers root)
  set(problems "")
  set(lookup src protocol daemon adapters/c)

  # Files to scan: C sources and headers of every layer and of the tests and benchmarks.
  set(files "")
  foreach(dir src protocol daemon adapters tests bench)
    file(GLOB_RECURSE found RELATIVE ${root} ${root}/${dir}/*.c ${root}/${dir}/*.h
         ${root}/${dir}/*.def)
    list(FILTER found EXCLUDE REGEX "(^|/)node_modules/")
    list(APPEND files ${found})
  endforeach()

  foreach(rel IN LISTS files)
    get_filename_component(dir ${rel} DIRECTORY)
    string(REGEX MATCH "^[^/]+" layer "${rel}")
    file(STRINGS ${root}/${rel} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"]")
    foreach(line IN LISTS lines)
      if(NOT line MATCHES "^[ \t]*#[ \t]*include[ \t]*([<\"])([^>\"]+)[>\"]")
        continue()
      endif()
      set(kind "${CMAKE_MATCH_1}")
      set(name "${CMAKE_MATCH_2}")
      if(kind STREQUAL "<")
        if(layer STREQUAL "src" AND name MATCHES "^(uv\\.h|msgpack\\.h|msgpack/)")
          string(APPEND problems "\n  ${rel}: <${name}> (the core has no loop and no msgpack)")
        endif()
        continue()
      endif()
      # resolve the quoted include as the compiler would find it
      set(target "")
      if(EXISTS ${root}/${dir}/${name} AND NOT IS_DIRECTORY ${root}/${dir}/${name})
        get_filename_component(abs ${root}/${dir}/${name} ABSOLUTE)
        file(RELATIVE_PATH target ${root} ${abs})
      else()
        foreach(base IN LISTS lookup)
          if(EXISTS ${root}/${base}/${name} AND NOT IS_DIRECTORY ${root}/${base}/${name})
            set(target "${base}/${name}")
            break()
          endif()
        endforeach()
      endif()
      if(target STREQUAL "")
        continue() # a system or generated header
      endif()
      string(REGEX MATCH "^[^/]+" from "${target}")
      if(layer STREQUAL "src" AND from MATCHES "^(protocol|daemon)$")
        string(APPEND problems "\n  ${rel}: \"${name}\" is ${target} (src/ never includes ${from}/)")
      elseif(layer STREQUAL "protocol" AND from STREQUAL "daemon")
        string(APPEND problems "\n  ${rel}: \"${name}\" is ${target} (protocol/ never includes daemon/)")
      elseif(layer STREQUAL "adapters" AND from MATCHES "^(src|daemon)$")
        string(APPEND problems "\n  ${rel}: \"${name}\" is ${target} (adapters/ never include ${from}/)")
      endif()
      if(target MATCHES "^src/[^/]+/[^/]*_internal\\.h$")
        get_filename_component(owner ${target} DIRECTORY)
        if(NOT dir STREQUAL owner AND NOT "${rel}|${target}" IN_LIST PATRON_INTERNAL_HEADER_EXCEPTIONS)
          string(APPEND problems "\n  ${rel}: \"${name}\" is ${target}, private to ${owner}/")
        endif()
      endif()
    endforeach()
  endforeach()

  # Every domain folder says what it owns: a README.md of 2 to 5 lines or, without one, each
  # public header opens with a "/* name.h -- what it owns" comment of at least two lines.
  file(GLOB domains LIST_DIRECTORIES true RELATIVE ${root} ${root}/src/*)
  foreach(domain IN LISTS domains)
    if(NOT IS_DIRECTORY ${root}/${domain})
      continue()
    endif()
    if(EXISTS ${root}/${domain}/README.md)
      file(STRINGS ${root}/${domain}/README.md readme)
      list(LENGTH readme n)
      if(n LESS 2 OR n GREATER 5)
        string(APPEND problems "\n  ${domain}/README.md: ${n} lines (2 to 5: what the folder owns)")
      endif()
      continue()
    endif()
    file(GLOB headers RELATIVE ${root}/${domain} ${root}/${domain}/*.h)
    list(FILTER headers EXCLUDE REGEX "_internal\\.h$")
    if(NOT headers)
      string(APPEND problems "\n  ${domain}/: no README.md and no public header saying what it owns")
    endif()
    foreach(h IN LISTS headers)
      file(STRINGS ${root}/${domain}/${h} top LIMIT_COUNT 2)
      list(GET top 0 first)
      list(LENGTH top ntop)
      string(REPLACE "." "\\." hre "${h}")
      if(NOT first MATCHES "^/\\* ${hre} -- ." OR ntop LESS 2)
        string(APPEND problems "\n  ${domain}/${h}: no README.md, and the header does not open with "
                               "'/* ${h} -- what it owns' (two lines at least)")
      endif()
    endforeach()
  endforeach()

  list(LENGTH files nfiles)
  if(problems)
    message(FATAL_ERROR "layer rules broken (cmake/check_layers.cmake):${problems}")
  endif()
  message(STATUS "layers: ${nfiles} files follow the include rules; every src/ domain says what it owns")
endfunction()

if(CMAKE_SCRIPT_MODE_FILE)
  if(NOT PATRON_ROOT)
    message(FATAL_ERROR "usage: cmake -DPATRON_ROOT=<source dir> -P check_layers.cmake")
  endif()
  patron_check_layers(${PATRON_ROOT})
else()
  patron_check_layers(${CMAKE_SOURCE_DIR})
endif()
