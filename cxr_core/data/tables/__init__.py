"""Sample tables and their readers: class folders, CSV manifests, COVIDx split files."""
