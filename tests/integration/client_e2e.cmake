# client_e2e.cmake -- end-to-end test of libpatronclient against the real patrond (fork/exec of
# the daemon built here). include()d from tests/integration/CMakeLists.txt.
add_executable(test_client_e2e ${CMAKE_CURRENT_LIST_DIR}/test_client_e2e.c)
target_link_libraries(test_client_e2e PRIVATE patronclient_static PkgConfig::CMOCKA)
add_test(NAME integration_client_e2e COMMAND test_client_e2e $<TARGET_FILE:patrond>)
set_tests_properties(integration_client_e2e PROPERTIES TIMEOUT 120)
