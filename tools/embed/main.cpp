// embed CLI (placeholder until the commands land).
#include <cstdio>
int main() { std::puts("embed"); return 0; }
