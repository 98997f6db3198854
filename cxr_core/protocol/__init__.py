"""Running an experiment's protocol: the data it reads, its splits and split files, the fold loop."""
