// (empty: this part is being written)
