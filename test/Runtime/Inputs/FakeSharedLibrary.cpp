// A shared library for SharedLibraryTest.cpp: the test copies it into fake
// folder trees under the names it searches for and checks which copy loaded.
extern "C" int lmcrtFakeSharedLibraryAnswer() { return 42; }
