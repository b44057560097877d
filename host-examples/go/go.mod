module passcode.example/passcode

go 1.19
