"""Networks (torch) and their light config sections: the SaVos network (its memory and carried masks), the
U-Net."""
