# verifier/policy/open.cmake: the policy as the programs load it (the engine
# and the libgit2 RepoChecker together), included from CMakeLists.txt.
add_library(infratrail_policy_open STATIC ${CMAKE_CURRENT_SOURCE_DIR}/load_policy.cc)
target_include_directories(infratrail_policy_open PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(infratrail_policy_open PUBLIC infratrail_policy infratrail_policy_git)
