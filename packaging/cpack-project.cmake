# cpack-project.cmake -- read by cpack at packaging time (CPACK_PROJECT_CONFIG_FILE, set in
# packaging/CMakeLists.txt): dpkg-shlibdeps through debian/shlibdeps.sh, which keeps this
# source's own packages out of the generated Depends (see that script).
set(SHLIBDEPS_EXECUTABLE "${CMAKE_CURRENT_LIST_DIR}/debian/shlibdeps.sh")
