// index.js -- the "patron" Medusa module (resolve as container key "patron").
// Owns: declaring the module; its service holds the patron-client Client (service.js).
'use strict';
const { Module } = require('@medusajs/framework/utils');
const PatronModuleService = require('./service');

const PATRON_MODULE = 'patron';
exports.PATRON_MODULE = PATRON_MODULE;
exports.default = Module(PATRON_MODULE, { service: PatronModuleService });
