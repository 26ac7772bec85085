module sevemu.test/goclient

go 1.19
