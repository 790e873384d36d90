"""The paper's four stages as plain numpy: split into scenes, classify, sync, mix."""
