# client_e2e.cmake -- end-to-end test of libpatronclient against the real patrond (fork/exec of
# the daemon built here); it also reads protocol/methods.def to call every method.
# include()d from tests/integration/CMakeLists.txt.
add_executable(test_client_e2e ${CMAKE_CURRENT_LIST_DIR}/test_client_e2e.c)
target_compile_definitions(test_client_e2e PRIVATE
  PATRON_METHODS_DEF="${CMAKE_CURRENT_LIST_DIR}/../../protocol/methods.def")
target_link_libraries(test_client_e2e PRIVATE patronclient_static PkgConfig::CMOCKA)
add_test(NAME integration_client_e2e COMMAND test_client_e2e $<TARGET_FILE:patrond>)
set_tests_properties(integration_client_e2e PROPERTIES TIMEOUT 120)
