"""Networks (torch) and their light config sections: the SaVos network, the U-Net, warping."""
