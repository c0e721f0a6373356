# Unit tests of the server library, beside the code (STYLE.md habit 11).
# Included from server/CMakeLists.txt.
foreach(t rocksdb_layout_test tree_reader_test sequencer_test
    checkpoint_signer_test log_test export_test tile_cache_test tile_http_test tile_http_server_test
    disk_reserve_test checkpoint_publisher_test witness_collector_test)
  add_executable(${t} ${t}.cc)
  target_link_libraries(${t} PRIVATE infratrail_server_lib GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${t} DISCOVERY_TIMEOUT 60)
endforeach()
# Tests on a throwaway PostgreSQL (initdb, ~2 s): one ctest test per binary,
# so the binary starts one server for all its tests rather than one each.
add_executable(storage_conformance_test storage_conformance_test.cc)
target_link_libraries(storage_conformance_test PRIVATE infratrail_server_lib infratrail_pg_testing
  GTest::gtest_main GTest::gmock)
add_test(NAME StorageConformanceTest.all COMMAND storage_conformance_test)
add_executable(postgres_storage_test postgres_storage_test.cc)
target_link_libraries(postgres_storage_test PRIVATE infratrail_server_lib infratrail_pg_testing
  GTest::gtest_main GTest::gmock)
add_test(NAME PostgresStorageTest.all COMMAND postgres_storage_test)
set_tests_properties(StorageConformanceTest.all PostgresStorageTest.all PROPERTIES TIMEOUT 300)

add_executable(writer_auth_test writer_auth_test.cc)
target_link_libraries(writer_auth_test PRIVATE infratrail_server_lib GTest::gtest_main)
gtest_discover_tests(writer_auth_test DISCOVERY_TIMEOUT 60)
