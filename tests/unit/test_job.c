/* placeholder: replaced by the module author */
int main(void) { return 77; }
